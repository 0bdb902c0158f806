/**
 * npm run figure -- INPUT... --out FILE.jpg: the README's before/after picture, produced by the same
 * pipeline the Worker runs (default parameters: fast mode, strength auto, denoise auto unless
 * --denoise says otherwise). One row per
 * input: input | [each --compare DIR's output of it] | enhanced. `--darken G,GAMMA` first turns a
 * well-exposed photo into a synthetic low-light one (x -> G * x^GAMMA, plus mild sensor-like noise),
 * for photos whose licence allows it. `--crop WxH[+X+Y]` shows a 100% crop (default: centred) instead
 * of the whole photo, so that noise and blotches are visible.
 */
import { existsSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { createNodeEngine, DEFAULT_MODEL } from "./lib/node-engine.ts";
import { CLI_LIMITS, parseDenoise } from "./lib/cli-options.ts";
import { contactSheet } from "./lib/contact-sheet.ts";
import { decode, encode } from "../src/image/codecs.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import type { RgbaImage } from "../src/shared/image.ts";
import { darkenFlag, darkenImage } from "./lib/darken.ts";
import { parseCli, readInput, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run figure -- INPUT... --out FILE.jpg|FILE.png [--model F] [--darken G,GAMMA] [--cell WxH]
                      [--crop WxH[+X+Y]] [--compare DIR]... [--denoise D|auto|strong]

  --compare DIR   outputs of the same inputs made elsewhere (another build, another tool), same file
                  names with any of .png/.jpg: a column each, between the input and this build's output
  --crop WxH+X+Y  a 100% crop of every column at X,Y (default: centred)
  --denoise D     this build's denoise (default auto, as served; strong for the DCT denoiser)`;

const fail: Fail = usageError("figure");
const { values, positionals } = parseCli("figure", HELP, {
  allowPositionals: true,
  options: {
    out: { type: "string" },
    model: { type: "string", default: DEFAULT_MODEL },
    darken: { type: "string" },
    cell: { type: "string", default: "420x300" },
    crop: { type: "string" },
    compare: { type: "string", multiple: true, default: [] },
    denoise: { type: "string", default: "auto" },
    help: { type: "boolean", short: "h" },
  },
});
if (!values.out || positionals.length === 0) fail("give at least one INPUT and --out");
const cell = /^(\d+)x(\d+)$/.exec(values.cell);
if (!cell) fail(`--cell must be WxH, got "${values.cell}"`);
const darken = darkenFlag(values.darken, fail);
const denoise = parseDenoise(values.denoise, fail);
const cropFlag = values.crop === undefined ? undefined : /^(\d+)x(\d+)(?:\+(\d+)\+(\d+))?$/.exec(values.crop) ?? fail(`--crop must be WxH or WxH+X+Y, got "${values.crop}"`);

/** The --crop region of `img` (clamped to it), or `img` itself. */
function crop(img: RgbaImage): RgbaImage {
  if (!cropFlag) return img;
  const w = Math.min(img.width, Number(cropFlag[1])), h = Math.min(img.height, Number(cropFlag[2]));
  const x0 = Math.min(img.width - w, cropFlag[3] !== undefined ? Number(cropFlag[3]) : (img.width - w) >> 1);
  const y0 = Math.min(img.height - h, cropFlag[4] !== undefined ? Number(cropFlag[4]) : (img.height - h) >> 1);
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}

/** `path`'s output in a --compare folder (same base name, .png or .jpg). */
async function compared(dir: string, path: string): Promise<RgbaImage> {
  const name = basename(path, extname(path));
  for (const ext of [".png", ".jpg", ".jpeg"]) {
    const file = join(dir, name + ext);
    if (!existsSync(file)) continue;
    const bytes = readInput(file, fail);
    return decode(bytes, sniffFormat(bytes) ?? fail(`${file} is not a PNG or JPEG`));
  }
  return fail(`${dir} has no output for ${path} (${name}.png or .jpg)`);
}

const engine = await createNodeEngine(values.model);
const rows: RgbaImage[][] = [];
for (const path of positionals) {
  const bytes = readInput(path, fail);
  const format = sniffFormat(bytes) ?? fail(`${path} is not a PNG or JPEG`);
  let input = await decode(bytes, format);
  if (darken) input = darkenImage(input, darken[0], darken[1]);
  // The file as uploaded, so the served path sees its coding (a JPEG's colour and shadow passes); a
  // darkened photo is new pixels, losslessly.
  const src = darken ? await encode(input, "png") : bytes;
  const res = await engine.enhance(src, { fit: "scale-down", format: "png", quality: 90, strength: "auto", denoise, mode: "fast", orient: true, limits: CLI_LIMITS });
  const others = await Promise.all((values.compare ?? []).map((dir) => compared(dir, path)));
  rows.push([input, ...others, await decode(res.bytes, "png")].map(crop));
  console.log(`${path}: strength ${res.strength.toFixed(2)}`);
}
const sheet = await contactSheet(rows, { cellWidth: Number(cell![1]), cellHeight: Number(cell![2]), background: 255 });
const asPng = values.out!.toLowerCase().endsWith(".png");
writeFileSync(values.out!, asPng ? await encode(sheet, "png") : await encode(sheet, "jpeg", { quality: 85 }));
console.log(`wrote ${values.out} (${sheet.width}x${sheet.height}; columns: input${(values.compare ?? []).map((d) => ` | ${d}`).join("")} | enhanced)`);
