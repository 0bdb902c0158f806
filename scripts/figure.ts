/**
 * npm run figure -- INPUT... --out FILE.jpg: the README's before/after picture, produced by the same
 * pipeline the Worker runs (default parameters: fast mode, strength auto, denoise auto). One row per
 * input: input | enhanced. `--darken G,GAMMA` first turns a well-exposed photo into a synthetic
 * low-light one (x -> G * x^GAMMA, plus mild sensor-like noise), for photos whose licence allows it.
 */
import { writeFileSync } from "node:fs";
import { createNodeEngine, DEFAULT_MODEL } from "./lib/node-engine.ts";
import { CLI_LIMITS } from "./lib/cli-options.ts";
import { contactSheet } from "./lib/contact-sheet.ts";
import { decode, encode } from "../src/image/codecs.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import type { RgbaImage } from "../src/shared/image.ts";
import { darkenFlag, darkenImage } from "./lib/darken.ts";
import { parseCli, readInput, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run figure -- INPUT... --out FILE.jpg|FILE.png [--model F] [--darken G,GAMMA] [--cell WxH]`;

const fail: Fail = usageError("figure");
const { values, positionals } = parseCli("figure", HELP, {
  allowPositionals: true,
  options: {
    out: { type: "string" },
    model: { type: "string", default: DEFAULT_MODEL },
    darken: { type: "string" },
    cell: { type: "string", default: "420x300" },
    help: { type: "boolean", short: "h" },
  },
});
if (!values.out || positionals.length === 0) fail("give at least one INPUT and --out");
const cell = /^(\d+)x(\d+)$/.exec(values.cell);
if (!cell) fail(`--cell must be WxH, got "${values.cell}"`);
const darken = darkenFlag(values.darken, fail);

const engine = await createNodeEngine(values.model);
const rows: RgbaImage[][] = [];
for (const path of positionals) {
  const bytes = readInput(path, fail);
  const format = sniffFormat(bytes) ?? fail(`${path} is not a PNG or JPEG`);
  let input = await decode(bytes, format);
  if (darken) input = darkenImage(input, darken[0], darken[1]);
  const src = await encode(input, "png");
  const res = await engine.enhance(src, { fit: "scale-down", format: "png", quality: 90, strength: "auto", mode: "fast", orient: true, limits: CLI_LIMITS });
  rows.push([input, await decode(res.bytes, "png")]);
  console.log(`${path}: strength ${res.strength.toFixed(2)}`);
}
const sheet = await contactSheet(rows, { cellWidth: Number(cell![1]), cellHeight: Number(cell![2]), background: 255 });
const asPng = values.out!.toLowerCase().endsWith(".png");
writeFileSync(values.out!, asPng ? await encode(sheet, "png") : await encode(sheet, "jpeg", { quality: 85 }));
console.log(`wrote ${values.out} (${sheet.width}x${sheet.height}; columns: input | enhanced)`);
