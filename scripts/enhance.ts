/**
 * npm run enhance -- [options] INPUT... --out DIR: brighten local images with the Worker's pipeline
 * code (decode, orient, estimate curves, apply, encode), in Node.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createNodeEngine, DEFAULT_MODEL } from "./lib/node-engine.ts";
import { expandInputs, outputName } from "./lib/image-files.ts";
import { HttpError } from "../src/shared/errors.ts";
import { CLI_LIMITS, parseDenoise, parseMode, parseStrength } from "./lib/cli-options.ts";
import { intFlag, parseCli, usageError, type Fail } from "./lib/cli.ts";
import type { Fit, ImageFormat } from "../src/shared/image.ts";
import type { OutputFormat } from "../src/engine/options.ts";

const HELP = `Usage: npm run enhance -- [options] INPUT... --out DIR

Enhances PNG/JPEG/WebP/AVIF files (or every such file directly inside a directory) with the same pipeline code
as the Worker. Each output keeps its input's file name, with the extension of the output format.

Options:
  --out DIR              output folder (required; created if missing)
  --model FILE           ONNX model (default: model/lowlight.onnx)
  --mode fast|full       fast (default): curves estimated on a copy scaled to the model's estimation
                         size, then upsampled; full: estimated at full resolution (the original method;
                         slow, at most ${CLI_LIMITS.maxFullModePixels / 1e6} MP)
  --strength S|auto      0..1 scales the curves, 0 = no enhancement, 1..2 goes past them towards the
                         strongest brightening curve, capped at a content brightness of 0.7;
                         auto (default) adapts to darkness
  --denoise D|auto|strong 0..1 smooths the noise the curves lift where they brightened, 0 = off;
                         auto (default) = the calibrated level, strong = auto's level with the
                         DCT denoiser (cleaner, several times the cost)
  --format F             jpeg, png, webp or avif (default: the input's if JPEG/PNG, else PNG with
                         alpha or JPEG)
  --quality Q            quality 1-100 for jpeg, webp, avif (default: the format's own, as the Worker)
  --width W, --height H, --fit scale-down|contain|cover   resize as the Worker does
  --no-orient            ignore the JPEG EXIF orientation
  --verbose              also print the time of each pipeline stage
  -h, --help             this text`;

const fail: Fail = usageError("enhance");

async function main(): Promise<void> {
  const { values, positionals } = parseCli("enhance", HELP, {
    options: {
      out: { type: "string" },
      model: { type: "string", default: DEFAULT_MODEL },
      mode: { type: "string", default: "fast" },
      strength: { type: "string", default: "auto" },
      denoise: { type: "string", default: "auto" },
      format: { type: "string" },
      quality: { type: "string" },
      width: { type: "string" },
      height: { type: "string" },
      fit: { type: "string", default: "scale-down" },
      "no-orient": { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (!values.out) fail("--out DIR is required");
  if (positionals.length === 0) fail("give at least one INPUT file or directory");
  const mode = parseMode(values.mode, fail);
  const format = values.format;
  if (format !== undefined && !["png", "jpeg", "webp", "avif"].includes(format)) fail(`--format must be jpeg, png, webp or avif, got "${format}"`);
  const fit = values.fit;
  if (fit !== "scale-down" && fit !== "contain" && fit !== "cover") fail(`--fit must be scale-down, contain or cover, got "${fit}"`);
  const strength = parseStrength(values.strength, fail);
  const denoise = parseDenoise(values.denoise, fail);
  const quality = intFlag(values.quality, "--quality", 1, 100, fail);
  const width = intFlag(values.width, "--width", 1, 100_000, fail);
  const height = intFlag(values.height, "--height", 1, 100_000, fail);

  let inputs: string[];
  try {
    inputs = expandInputs(positionals);
  } catch (e) {
    fail((e as Error).message);
  }
  mkdirSync(values.out, { recursive: true });
  const t0 = performance.now();
  const engine = await createNodeEngine(values.model);
  const m = engine.model;
  console.log(`model ${m.name} ${m.version} (${m.arch}, ${m.variant}, estimation ${m.estimationSize} px) loaded in ${(performance.now() - t0).toFixed(0)} ms; mode ${mode}`);

  let failures = 0;
  for (const input of inputs) {
    const bytes = new Uint8Array(readFileSync(input));
    const outFormat: OutputFormat = (format as ImageFormat | undefined) ?? "source";
    const t = performance.now();
    try {
      const r = await engine.enhance(bytes, { fit: fit as Fit, width, height, format: outFormat, ...(quality === undefined ? {} : { quality }), strength, denoise, mode, orient: !values["no-orient"], limits: CLI_LIMITS });
      const dest = join(values.out, outputName(input, r.format));
      writeFileSync(dest, r.bytes);
      const ms = performance.now() - t;
      console.log(`${input} -> ${dest}  ${r.width}x${r.height}  ${(r.bytes.length / 1024).toFixed(1)} KiB  ${ms.toFixed(0)} ms  strength ${r.strength.toFixed(2)}`);
      if (values.verbose) console.log("  " + Object.entries(r.timings).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ") + " ms");
    } catch (e) {
      failures++;
      const why = e instanceof HttpError ? `${e.code}: ${e.message}` : String(e);
      console.error(`${input}: ${why}`);
    }
  }
  if (failures) {
    console.error(`${failures} of ${inputs.length} file(s) failed`);
    process.exitCode = 1;
  }
}

await main();
