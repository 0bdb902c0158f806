/**
 * npm run memory: memory of the Worker's pipeline, accounted the way the platform does: the sum of
 * the WASM memories (ORT, each codec, resampler, pixel kernels) plus the JS buffers of the
 * request. Runs the same pipeline code in Node (--expose-gc, so "live" means what survives a full
 * GC) through the phases of issue 4:
 *   (a) a 12-megapixel JPEG turned into a 512 px JPEG thumbnail,
 *   (b) the largest full-size output the limits allow, JPEG in and out,
 *   (c) hundreds of mixed requests (the above, EXIF-rotated, PNG, WebP and AVIF in and out at the
 *       largest sizes each allows, cover crops, mode=full, strength=0),
 *   then (a) and (b) again.
 * The peak is sampled after every pipeline stage and at the end of every codec job (when that job's
 * WASM memory is largest). Exit code 1 when any peak or the idle total is over --budget.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GifWriter } from "omggif";
import { gridHeic, heicPicture } from "./lib/heic-grid.ts";
import { createNodeEngine } from "./lib/node-engine.ts";
import { CODEC_NAMES, encode, type CodecName } from "../src/image/codecs.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import { getConfig } from "../src/config/config.ts";
import { makeImage, type RgbaImage } from "../src/shared/image.ts";
import { mulberry32 } from "../src/shared/rng.ts";
import { jobEnd, releasedHeaps, type WasmMemoryReport } from "../src/image/wasm-memory.ts";
import type { PipelineOptions } from "../src/engine/options.ts";
import { parseCli, positiveInt, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: node --expose-gc --import tsx scripts/memory.ts [--requests N] [--budget MB] [--trace TEXT]

  --requests N  mixed requests in phase (c) (default 300)
  --budget MB   the bound every peak must stay under (default 100)`;

const fail: Fail = usageError("memory");
const { values } = parseCli("memory", HELP, {
  options: {
    requests: { type: "string", default: "300" },
    budget: { type: "string", default: "100" },
    trace: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const requests = positiveInt(values.requests, "--requests", fail)!;
const budgetMb = Number(values.budget);
if (!(budgetMb > 0)) fail(`--budget must be a positive number of MB, got ${values.budget}`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with node --expose-gc (npm run memory does): live memory is what survives a full GC");
  process.exit(2);
}

const MB = 2 ** 20;
const fmt = (n: number): string => (n / MB).toFixed(1);

/** A dark photo-like scene with sensor noise, so JPEGs have realistic sizes (about 0.35 bytes/pixel at q90). */
function scene(width: number, height: number, seed: number): RgbaImage {
  const img = makeImage(width, height);
  const rand = mulberry32(seed);
  const d = img.data;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      const base = 30 + 20 * Math.sin(x / 97) * Math.cos(y / 71) + (((x >> 7) + (y >> 7)) % 2) * 14;
      const n = (rand() - 0.5) * 24;
      d[i] = base + n;
      d[i + 1] = base * 0.9 + n;
      d[i + 2] = base * 0.75 + n;
      d[i + 3] = 255;
    }
  }
  return img;
}

/** EXIF APP1 with an orientation, inserted after SOI (a phone photo taken in portrait). */
function withOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const app1 = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload];
  const out = new Uint8Array(jpeg.length + app1.length);
  out.set(jpeg.subarray(0, 2));
  out.set(app1, 2);
  out.set(jpeg.subarray(2), 2 + app1.length);
  return out;
}

/** width x height with width/height = aspect and width*height <= pixels, dimensions multiples of 16. */
function dims(pixels: number, aspect: number): [number, number] {
  let h = Math.floor(Math.sqrt(pixels / aspect) / 16) * 16;
  let w = Math.floor((h * aspect) / 16) * 16;
  while (w * h > pixels) h -= 16;
  return [w, h];
}

// The served defaults (no vars set).
const { limits } = getConfig({});

const engine = await createNodeEngine();
console.log("generating sources...");
await new Promise((r) => setTimeout(r, 0));
const [bigW, bigH] = dims(Math.min(12e6, limits.maxSourcePixels), 4 / 3);
const [outW, outH] = dims(limits.maxOutputPixels, 4 / 3);
// The largest JPEG source: it decodes at the DCT scale its output needs (shrink-on-load).
const [hugeW, hugeH] = dims(limits.maxSourcePixels, 4 / 3);
const fullSide = Math.floor(Math.sqrt(limits.maxFullModePixels));
const big = await encode(scene(bigW, bigH, 1), "jpeg", { quality: 90 });
const maxOut = await encode(scene(outW, outH, 2), "jpeg", { quality: 90 });
const mid = await encode(scene(1224, 816, 3), "png");
const [pngW, pngH] = dims(limits.maxPngSourcePixels, 3 / 2);
const maxPng = await encode(scene(pngW, pngH, 6), "png");
const small = await encode(scene(640, 400, 4), "jpeg", { quality: 85 });
const fullSrc = await encode(scene(fullSide, fullSide, 5), "png");
const rotated = withOrientation(big, 6);
const huge = await encode(scene(hugeW, hugeH, 11), "jpeg", { quality: 80 });
const [webpW, webpH] = dims(limits.maxWebpSourcePixels, 4 / 3);
const bigWebp = await encode(scene(webpW, webpH, 7), "webp", { quality: 90 });
const [avifSrcW, avifSrcH] = dims(limits.maxAvifSourcePixels, 3 / 2);
const bigAvif = await encode(scene(avifSrcW, avifSrcH, 9), "avif", { quality: 70 });
const maxWebp = await encode(scene(outW, outH, 8), "webp", { quality: 90 });
const [avifW, avifH] = dims(limits.maxAvifPixels, 4 / 3);
const [gifW, gifH] = dims(limits.maxGifSourcePixels, 3 / 2);
const bigGif = gifOf(scene(gifW, gifH, 10));
// A phone's HEIC: 512x512 HEVC tiles (one committed tile, repeated) in a grid at the HEIC decode limit.
const heicTile = heicPicture(new Uint8Array(readFileSync(fileURLToPath(new URL("../test/fixtures/heic/tile-512.heic", import.meta.url)))));
const heicCols = Math.floor(Math.sqrt((limits.maxHeicDecodePixels * 4) / 3) / 512), heicRows = Math.floor(limits.maxHeicDecodePixels / (heicCols * 512 * 512));
const bigHeic = gridHeic(Array.from({ length: heicCols * heicRows }, () => heicTile), { columns: heicCols, rows: heicRows, width: heicCols * 512, height: heicRows * 512 });
// A phone's 48 MP HEIC at the source limit, as large a file as a body may be (a free box pads it:
// libheif's heap holds the whole file).
const [hugeHeicW, hugeHeicH] = dims(limits.maxSourcePixels, 4 / 3);
const hugeHeicGrid = gridHeic(Array.from({ length: Math.ceil(hugeHeicW / 512) * Math.ceil(hugeHeicH / 512) }, () => heicTile), { columns: Math.ceil(hugeHeicW / 512), rows: Math.ceil(hugeHeicH / 512), width: hugeHeicW, height: hugeHeicH });
const hugeHeic = new Uint8Array(limits.maxSourceBytes - 1024);
hugeHeic.set(hugeHeicGrid);
new DataView(hugeHeic.buffer).setUint32(hugeHeicGrid.length, hugeHeic.length - hugeHeicGrid.length);
hugeHeic.set([0x66, 0x72, 0x65, 0x65], hugeHeicGrid.length + 4); // "free"

/** A GIF of `img` on a 6x7x6 colour cube (what a GIF of a photo looks like: 252 colours). */
function gifOf(img: RgbaImage): Uint8Array {
  const palette = Array.from({ length: 256 }, (_, i) => (i < 252 ? (Math.round(((i / 42) | 0) * 51) << 16) | (Math.round((((i / 6) | 0) % 7) * 42.5) << 8) | Math.round((i % 6) * 51) : 0));
  const idx = new Uint8Array(img.width * img.height);
  for (let p = 0; p < idx.length; p++) {
    const d = img.data;
    idx[p] = Math.round(d[p * 4]! / 51) * 42 + Math.round(d[p * 4 + 1]! / 42.5) * 6 + Math.round(d[p * 4 + 2]! / 51);
  }
  const buf = new Uint8Array(1024 + idx.length * 2);
  const writer = new GifWriter(buf, img.width, img.height, { palette });
  writer.addFrame(0, 0, img.width, img.height, Array.from(idx));
  return buf.slice(0, writer.end());
}

interface Job {
  name: string;
  input: Uint8Array;
  opts: Partial<PipelineOptions>;
}
const A: Job = { name: `(a) ${bigW}x${bigH} JPEG (${fmt(big.length)} MB) -> w=512 JPEG`, input: big, opts: { width: 512, format: "jpeg" } };
const B: Job = { name: `(b) ${outW}x${outH} JPEG (${fmt(maxOut.length)} MB) -> full size JPEG`, input: maxOut, opts: { format: "jpeg" } };
const MIX: Job[] = [
  A,
  B,
  { name: "12 MP EXIF 6 -> 512", input: rotated, opts: { width: 512, format: "jpeg" } },
  { name: "1 MP PNG -> PNG", input: mid, opts: { format: "png" } },
  { name: "1 MP PNG -> JPEG w=800 strength=0", input: mid, opts: { width: 800, format: "jpeg", strength: 0 } },
  { name: "0.25 MP JPEG -> 256x256 cover PNG", input: small, opts: { width: 256, height: 256, fit: "cover", format: "png" } },
  { name: `${fullSide}^2 PNG mode=full`, input: fullSrc, opts: { mode: "full", strength: 1, format: "png" } },
  { name: `12 MP -> ${outW} wide JPEG`, input: big, opts: { width: outW, format: "jpeg" } },
  { name: "largest PNG -> PNG", input: maxPng, opts: { format: "png" } },
  { name: "largest PNG -> JPEG", input: maxPng, opts: { format: "jpeg" } },
  { name: "largest PNG -> PNG denoise=strong", input: maxPng, opts: { format: "png", denoise: "strong" } },
  { name: "largest JPEG -> JPEG denoise=strong", input: maxOut, opts: { format: "jpeg", denoise: "strong" } },
  { name: "largest JPEG -> PNG", input: maxOut, opts: { format: "png" } },
  { name: `largest WebP ${webpW}x${webpH} (${fmt(bigWebp.length)} MB) -> 512 WebP`, input: bigWebp, opts: { width: 512, format: "webp" } },
  { name: `largest AVIF ${avifSrcW}x${avifSrcH} (${fmt(bigAvif.length)} MB) -> 512 AVIF`, input: bigAvif, opts: { width: 512, format: "avif" } },
  { name: "largest WebP -> WebP", input: maxWebp, opts: { format: "webp" } },
  { name: "largest JPEG -> WebP", input: maxOut, opts: { format: "webp" } },
  { name: `largest JPEG -> ${avifW}x${avifH} AVIF (the AVIF output limit)`, input: maxOut, opts: { width: avifW, format: "avif" } },
  { name: "largest AVIF -> full size JPEG", input: bigAvif, opts: { format: "jpeg" } },
  { name: "largest AVIF -> full size WebP", input: bigAvif, opts: { format: "webp" } },
  { name: `largest GIF ${gifW}x${gifH} (${fmt(bigGif.length)} MB) -> 512 JPEG`, input: bigGif, opts: { width: 512, format: "jpeg" } },
  { name: "largest GIF -> full size PNG", input: bigGif, opts: { format: "png" } },
  { name: "12 MP JPEG, no size -> scaled to the output limit", input: big, opts: { format: "jpeg" } },
  { name: `largest HEIC ${heicCols * 512}x${heicRows * 512} (${heicCols}x${heicRows} tiles) -> 512 JPEG`, input: bigHeic, opts: { width: 512, format: "jpeg" } },
  { name: "largest HEIC, no size -> scaled to the output limit", input: bigHeic, opts: { format: "jpeg" } },
  { name: `largest HEIC ${hugeHeicW}x${hugeHeicH} (${fmt(hugeHeic.length)} MB) -> 400 px JPEG`, input: hugeHeic, opts: { width: 400, format: "jpeg" } },
  { name: `largest HEIC ${hugeHeicW}x${hugeHeicH}, no size -> scaled to the output limit`, input: hugeHeic, opts: { format: "jpeg" } },
  { name: `largest JPEG ${hugeW}x${hugeH} (${fmt(huge.length)} MB) -> 400 px JPEG`, input: huge, opts: { width: 400, format: "jpeg" } },
  { name: `largest JPEG ${hugeW}x${hugeH} -> 400 px WebP`, input: huge, opts: { width: 400, format: "webp" } },
  { name: `largest JPEG ${hugeW}x${hugeH}, no size -> scaled to the output limit`, input: huge, opts: { format: "jpeg" } },
];

const base: PipelineOptions = { fit: "scale-down", format: "jpeg", strength: "auto", mode: "fast", orient: true, limits };

type Row = Omit<WasmMemoryReport, "peak"> & { js: number; sum: number };
const KEYS = ["ort", ...CODEC_NAMES, "resize", "pixels", "total", "js", "sum"] as const;
const zero = (): Row => Object.fromEntries(KEYS.map((k) => [k, 0])) as Row;

/** JS buffers of the script itself (the sources it keeps), measured between requests. */
let jsBaseline = 0;
let phasePeak = zero();
let inputBytes = 0;
/** The pipeline's current image, from its last stage probe. */
let current: RgbaImage | undefined;

function sample(): Row {
  gc!();
  const m = engine.memory();
  // The request's JS buffers: everything above the script's own, plus the request body it was given.
  let js = Math.max(0, process.memoryUsage().arrayBuffers - jsBaseline) + inputBytes;
  // A decoded image that is a view of a finished decoder's heap keeps that whole heap, which Node
  // does not count among its ArrayBuffers: count it under the codec that made it.
  const heap = current && releasedHeaps.has(current.data.buffer) ? current.data.buffer.byteLength : 0;
  const { peak: _peak, ...now } = m;
  const row: Row = { ...now, js, sum: 0 };
  if (heap > 0) {
    row[currentFrom] += heap;
    row.total += heap;
  }
  row.sum = row.total + js;
  return row;
}
let currentFrom: CodecName = "jpegDec";
const DECODER: Record<string, CodecName> = { png: "png", jpeg: "jpegDec", webp: "webpDec", avif: "avifDec" };

function track(stage?: string, img?: RgbaImage): void {
  if (img) current = img;
  const s = sample();
  if (tracing) console.log(`  ${(stage ?? "end").padEnd(8)} ${KEYS.map((k) => `${k} ${fmt(s[k])}`).join("  ")}`);
  for (const k of KEYS) phasePeak[k] = Math.max(phasePeak[k], s[k]);
}

async function run(job: Job): Promise<void> {
  inputBytes = 0;
  gc!();
  jsBaseline = process.memoryUsage().arrayBuffers;
  inputBytes = job.input.length;
  currentFrom = DECODER[sniffFormat(job.input) ?? "jpeg"]!;
  jobEnd.probe = track;
  try {
    await engine.enhance(job.input, { ...base, ...job.opts, probe: track });
  } finally {
    jobEnd.probe = undefined;
    inputBytes = 0;
    current = undefined;
  }
}

const rows: Array<{ phase: string; peak: Row; after: Row; worst: string }> = [];
async function phase(name: string, jobs: Job[]): Promise<void> {
  phasePeak = zero();
  const t = performance.now();
  let worst = "";
  let worstSum = -1;
  for (const j of jobs) {
    const before = phasePeak.sum;
    phasePeak.sum = 0;
    await run(j);
    if (phasePeak.sum > worstSum) {
      worstSum = phasePeak.sum;
      worst = `${j.name} (${fmt(worstSum)} MB)`;
    }
    phasePeak.sum = Math.max(before, phasePeak.sum);
  }
  await new Promise((r) => setTimeout(r, 0)); // let WeakRefs of finished jobs clear
  const after = sample();
  rows.push({ phase: name, peak: phasePeak, after, worst });
  console.log(`${name}: ${jobs.length} request(s), ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

let tracing = false;
if (values.trace !== undefined) {
  // Per-stage memory of the mixed jobs whose name contains the text, three times each.
  tracing = true;
  for (const j of MIX.filter((m) => m.name.includes(values.trace!))) {
    for (let i = 0; i < 3; i++) {
      console.log(`${j.name} #${i + 1}`);
      await run(j);
    }
  }
  process.exit(0);
}

await phase(A.name, [A]);
await phase(B.name, [B]);
const mixed = Array.from({ length: requests }, (_, i) => MIX[i % MIX.length]!);
await phase(`(c) ${requests} mixed requests`, mixed);
await phase(`(a) again after ${requests}`, [A]);
await phase(`(b) again after ${requests}`, [B]);

const pad = (s: string, n: number): string => s.padStart(n);
console.log(`\nMB            ${KEYS.map((k) => pad(k === "total" ? "wasm" : k === "sum" ? "TOTAL" : k, 8)).join("")}`);
let over = false;
for (const r of rows) {
  console.log(r.phase);
  console.log(`  peak        ${KEYS.map((k) => pad(fmt(r.peak[k]), 8)).join("")}`);
  console.log(`  idle after  ${KEYS.map((k) => pad(fmt(r.after[k]), 8)).join("")}`);
  if (r.phase.startsWith("(c)")) console.log(`  largest request: ${r.worst}`);
  if (r.peak.sum > budgetMb * MB || r.after.sum > budgetMb * MB) over = true;
}
console.log(
  "\npeak: the largest value of each column during the phase (TOTAL: the largest sum at one instant);" +
    "\nidle after: once the phase's requests are done. js: the request's JS buffers (body included).",
);
console.log(over ? `\nOVER the ${budgetMb} MB budget` : `\nevery peak is under the ${budgetMb} MB budget`);
process.exit(over ? 1 : 0);
