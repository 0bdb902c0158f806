/**
 * npm run bench: starts the bundled Worker locally (workerd via Miniflare, the deployable bundle) and
 * prints, per source size and format, the median latency of POST /enhance with default parameters and
 * of the same request with strength=0 (plain decode/resize/encode: the baseline), their ratio, and the
 * first-request (cold) latency of a fresh isolate; then, per output format (jpeg, png, webp, avif),
 * a 1 MP night JPEG enhanced and transcoded: medians, bytes, and the SSIM of each output against the
 * lossless PNG one. Timed from outside, over loopback, because time does not advance during CPU work
 * inside a Worker.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { startWorker, type StartedWorker } from "./lib/local-worker.ts";
import { initNodeCodecs } from "./lib/node-engine.ts";
import { decode, encode } from "../src/image/codecs.ts";
import { resizeImage } from "../src/image/resize.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import { ssim } from "./lib/metrics.ts";
import { makeImage, type RgbaImage } from "../src/shared/image.ts";
import { mulberry32 } from "../src/shared/rng.ts";
import type { ImageFormat } from "../src/shared/image.ts";
import { intFlag, parseCli, positiveInt, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run bench -- [--runs N] [--workers N] [--source FILE] [--sizes 0.25,1,4] [--formats jpeg,png] [--query "w=512"]

  --runs N       timed requests per cell, strength and Worker (default 7; medians reported)
  --workers N    Worker processes timed side by side, round-robin (default 3): one process's timings
                 can sit several points off another's for the same build, so the table pools them
                 and shows the spread of the per-process ratios
  --source FILE  a real photo (PNG/JPEG) resized to each size; default: a generated dark scene
  --sizes LIST   megapixels of the sources (default 0.25,1,4)
  --formats LIST source formats; the output format is the same (default jpeg,png)
  --query Q      extra query parameters for every request, e.g. "w=512" for thumbnails
  --outputs LIST output formats of the second table, from a 1 MP JPEG (default jpeg,png,webp,avif; none)
  --no-native    skip the third table: thumbnails and a 1 MP transcode against native libvips (sharp, 1 thread)`;

const fail: Fail = usageError("bench");
const { values } = parseCli("bench", HELP, {
  options: {
    runs: { type: "string", default: "7" },
    workers: { type: "string", default: "3" },
    source: { type: "string" },
    sizes: { type: "string", default: "0.25,1,4" },
    formats: { type: "string", default: "jpeg,png" },
    query: { type: "string", default: "" },
    outputs: { type: "string", default: "jpeg,png,webp,avif" },
    native: { type: "boolean", default: true },
    "no-native": { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
const runs = positiveInt(values.runs, "--runs", fail)!;
if (values["no-native"]) values.native = false;
const workerCount = intFlag(values.workers, "--workers", 1, 8, fail)!;
const sizes = values.sizes.split(",").map(Number);
if (sizes.some((s) => !(s > 0 && s <= 16))) fail(`--sizes must be megapixels in (0, 16], got ${values.sizes}`);
const formats = values.formats.split(",") as ImageFormat[];
if (formats.some((f) => !["jpeg", "png", "webp", "avif"].includes(f))) fail(`--formats must list jpeg, png, webp and/or avif`);
const outputs = (values.outputs === "none" ? [] : values.outputs.split(",")) as ImageFormat[];
if (outputs.some((f) => !["jpeg", "png", "webp", "avif"].includes(f))) fail(`--outputs must list jpeg, png, webp and/or avif, or none`);

/** A dark scene with smooth shading, edges and sensor-like noise, so codecs and curves see real work. */
function darkScene(width: number, height: number): RgbaImage {
  const img = makeImage(width, height);
  const rand = mulberry32(7);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const base = 0.08 + 0.1 * u * v + (((x >> 6) + (y >> 6)) % 2) * 0.05 + 0.04 * Math.sin(12 * u + 7 * v);
      const i = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) {
        const tint = c === 0 ? 1.1 : c === 1 ? 1 : 0.8;
        img.data[i + c] = Math.max(0, Math.min(255, Math.round(255 * base * tint + (rand() - 0.5) * 8)));
      }
      img.data[i + 3] = 255;
    }
  }
  return img;
}

async function makeSource(mp: number, format: ImageFormat, photo: RgbaImage | undefined): Promise<Uint8Array<ArrayBuffer>> {
  const aspect = 3 / 2;
  const height = Math.round(Math.sqrt((mp * 1e6) / aspect));
  const width = Math.round(height * aspect);
  const img = photo ? await resizeImage(photo, width, height) : darkScene(width, height);
  return encode(img, format, { quality: 90 });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Stage durations from the response's Server-Timing header (real under Miniflare). */
function serverTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? "").split(",")) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

let lastStages: Record<string, number> = {};

let lastBody = new Uint8Array(0);

/** POST the source; `format` is the source's, the output's too unless `extra` names another. */
async function timeRequest(base: string, body: Uint8Array<ArrayBuffer>, format: ImageFormat, extra: string): Promise<number> {
  const query = [/(^|&)format=/.test(extra) ? "" : `format=${format}`, extra].filter(Boolean).join("&");
  const t0 = performance.now();
  const res = await fetch(`${base}/enhance?${query}`, {
    method: "POST",
    headers: { "content-type": `image/${format}` },
    body,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const ms = performance.now() - t0;
  lastStages = serverTiming(res.headers.get("server-timing"));
  lastBody = bytes;
  if (res.status !== 200) throw new Error(`POST /enhance?${query} -> ${res.status} ${new TextDecoder().decode(bytes)}`);
  return ms;
}

await initNodeCodecs();
let photo: RgbaImage | undefined;
if (values.source) {
  const bytes = new Uint8Array(readFileSync(values.source));
  const fmt = sniffFormat(bytes);
  if (!fmt) throw new Error(`${values.source} is not a PNG or JPEG`);
  photo = await decode(bytes, fmt);
}
const extra = values.query;
const WARMUP = 4;

// Cold start: a fresh isolate's first request (module start-up, codec and ORT initialisation, session).
const coldSource = await makeSource(1, "jpeg", photo);
const t0 = performance.now();
// The 4 MP cells are over the default output/PNG limits (set for memory, not speed): raise them here.
const BENCH_VARS = { MAX_OUTPUT_PIXELS: String(2560 * 1700), MAX_PNG_SOURCE_PIXELS: String(2560 * 1700) };
const cold = await startWorker({ cache: false, vars: BENCH_VARS });
const startMs = performance.now() - t0;
const coldMs = await timeRequest(cold.url, coldSource, "jpeg", extra);
const secondMs = await timeRequest(cold.url, coldSource, "jpeg", extra);
await cold.dispose();

const workers: StartedWorker[] = [];
const nativeRows: string[][] = [];
const outRows: string[][] = [];
const rows: string[][] = [];
/** Per cell: stage -> durations, for enhance and strength=0. */
const stageRows: { cell: string; enh: Record<string, number[]>; base: Record<string, number[]> }[] = [];
const collect = (into: Record<string, number[]>): void => {
  for (const [k, v] of Object.entries(lastStages)) (into[k] ??= []).push(v);
};
const pct = (ratio: number): string => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(0)}%`;
try {
  // Started inside the try, so those already running are disposed if a later one fails to start.
  for (let i = 0; i < workerCount; i++) workers.push(await startWorker({ cache: false, vars: BENCH_VARS }));
  // Warm each isolate so the table measures steady state.
  for (const w of workers) await timeRequest(w.url, coldSource, "jpeg", extra);
  const baseQuery = [extra, "strength=0"].filter(Boolean).join("&");
  for (const format of formats) {
    for (const mp of sizes) {
      const src = await makeSource(mp, format, photo);
      // Per Worker process: its enhance and strength=0 timings.
      const enh: number[][] = workers.map(() => []);
      const base: number[][] = workers.map(() => []);
      const stages = { cell: `${mp} MP ${format}`, enh: {} as Record<string, number[]>, base: {} as Record<string, number[]> };
      stageRows.push(stages);
      // Untimed rounds first: V8 needs a few calls of each hot loop before it is optimised, and the
      // table is about steady state (the cold start is measured above).
      for (const w of workers) {
        for (let i = 0; i < WARMUP; i++) {
          await timeRequest(w.url, src, format, extra);
          await timeRequest(w.url, src, format, baseQuery);
        }
      }
      for (let i = 0; i < runs; i++) {
        // Interleaved, and round-robin over the processes, so drift in machine load hits every
        // column and process alike.
        for (const [k, w] of workers.entries()) {
          enh[k]!.push(await timeRequest(w.url, src, format, extra));
          collect(stages.enh);
          base[k]!.push(await timeRequest(w.url, src, format, baseQuery));
          collect(stages.base);
        }
      }
      const e = median(enh.flat());
      const b = median(base.flat());
      const perWorker = workers.map((_, k) => median(enh[k]!) / median(base[k]!));
      const spread = workers.length > 1 ? `${pct(Math.min(...perWorker))} to ${pct(Math.max(...perWorker))}` : "-";
      rows.push([`${mp} MP ${format}`, `${(src.length / 1024).toFixed(0)} KiB`, e.toFixed(0), b.toFixed(0), (e / b).toFixed(2), pct(e / b), spread]);
      console.error(`measured ${mp} MP ${format}`);
    }
  }
  // Output formats from one 1 MP night JPEG: the same request in each format.
  const src = await makeSource(1, "jpeg", photo);
  let reference: RgbaImage | undefined;
  for (const out of outputs.includes("png") ? ["png" as const, ...outputs.filter((o) => o !== "png")] : outputs) {
    const q = (s: string) => [extra, `format=${out}`, s].filter(Boolean).join("&");
    const enh: number[] = [];
    const base: number[] = [];
    for (const w of workers) for (let i = 0; i < WARMUP; i++) await timeRequest(w.url, src, "jpeg", q(""));
    for (let i = 0; i < runs; i++) {
      for (const w of workers) {
        base.push(await timeRequest(w.url, src, "jpeg", q("strength=0")));
        enh.push(await timeRequest(w.url, src, "jpeg", q("")));
      }
    }
    const bytes = lastBody;
    const img = await decode(bytes, out);
    if (out === "png") reference = img;
    const e = median(enh);
    const b = median(base);
    outRows.push([out, e.toFixed(0), b.toFixed(0), (e / b).toFixed(2), `${(bytes.length / 1024).toFixed(1)} KiB`, reference ? ssim(reference, img).toFixed(4) : "-"]);
    console.error(`measured output ${out}`);
  }
  // The jobs users compare an image service with, against native libvips doing the same job with no
  // enhancement (sharp on one thread, shrink-on-load as it does by default), in this same run.
  if (values.native) {
    sharp.concurrency(1);
    sharp.cache(false);
    const big = await makeSource(12, "jpeg", photo);
    const oneMp = await makeSource(1, "jpeg", photo);
    const jobs: Array<{ name: string; body: Uint8Array<ArrayBuffer>; query: string; native: () => Promise<Buffer> }> = [
      { name: "12 MP JPEG -> 400 px JPEG", body: big, query: "w=400&format=jpeg", native: () => sharp(big).resize(400).jpeg({ quality: 85 }).toBuffer() },
      { name: "12 MP JPEG -> 400 px WebP", body: big, query: "w=400&format=webp", native: () => sharp(big).resize(400).webp({ quality: 86 }).toBuffer() },
      { name: "1 MP JPEG -> JPEG q85", body: oneMp, query: "format=jpeg&q=85", native: () => sharp(oneMp).jpeg({ quality: 85 }).toBuffer() },
    ];
    for (const job of jobs) {
      const ours: number[] = [];
      const plain: number[] = [];
      const native: number[] = [];
      for (const w of workers) for (let i = 0; i < WARMUP; i++) await timeRequest(w.url, job.body, "jpeg", job.query);
      for (let i = 0; i < WARMUP; i++) await job.native();
      for (let i = 0; i < runs; i++) {
        for (const w of workers) {
          ours.push(await timeRequest(w.url, job.body, "jpeg", job.query));
          plain.push(await timeRequest(w.url, job.body, "jpeg", `${job.query}&strength=0`));
          const t0 = performance.now();
          await job.native();
          native.push(performance.now() - t0);
        }
      }
      const [o, p, n] = [median(ours), median(plain), median(native)];
      nativeRows.push([job.name, o.toFixed(0), p.toFixed(0), n.toFixed(1), `${(o / n).toFixed(1)}x`, `${(p / n).toFixed(1)}x`]);
      console.error(`measured ${job.name}`);
    }
  }
} finally {
  for (const w of workers) await w.dispose();
}

const header = ["source", "bytes", "enhance ms (median)", "strength=0 ms (median)", "ratio", "added", "added, per process"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
console.log(`\nPOST /enhance${extra ? `?${extra}` : ""}, ${runs} runs per cell in each of ${workers.length} Worker processes (medians pooled), output format = source format, Worker in workerd (Miniflare) on this machine; MAX_OUTPUT_PIXELS/MAX_PNG_SOURCE_PIXELS raised to 4.35 MP for the 4 MP cells`);
console.log(line(header));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows) console.log(line(r));
// Where the time goes: median Server-Timing per stage (the pipeline's own clock; the rest of a
// request's time is HTTP, body transfer and the Worker's own code).
const STAGES = ["decode", "resize", "orient", "estimate", "model", "curves", "denoise", "encode"];
const sHeader = ["source", "request", ...STAGES];
const sRows: string[][] = [];
for (const s of stageRows) {
  for (const [label, st] of [["enhance", s.enh], ["strength=0", s.base]] as const) {
    sRows.push([s.cell, label, ...STAGES.map((k) => (st[k] ? median(st[k]!).toFixed(1) : "-"))]);
  }
}
const sWidths = sHeader.map((h, i) => Math.max(h.length, ...sRows.map((r) => r[i]!.length)));
const sLine = (r: string[]) => "| " + r.map((c, i) => c.padEnd(sWidths[i]!)).join(" | ") + " |";
console.log(`\nStages (median ms, Server-Timing)`);
console.log(sLine(sHeader));
console.log("|" + sWidths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of sRows) console.log(sLine(r));
if (outRows.length > 0) {
  const oHeader = ["output", "enhance ms (median)", "strength=0 ms (median)", "enhance / transcode", "bytes (enhanced)", "SSIM vs PNG output"];
  const oWidths = oHeader.map((h, i) => Math.max(h.length, ...outRows.map((r) => r[i]!.length)));
  const oLine = (r: string[]) => "| " + r.map((c, i) => c.padEnd(oWidths[i]!)).join(" | ") + " |";
  const jpegMs = Number(outRows.find((r) => r[0] === "jpeg")?.[1]);
  console.log(`\nOutput formats: POST /enhance?format=F of a 1 MP night JPEG (${values.source ?? "generated scene"}), default q per format, ${runs} runs x ${workers.length} processes`);
  console.log(oLine(oHeader));
  console.log("|" + oWidths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of outRows) console.log(oLine(r));
  if (jpegMs > 0) console.log(outRows.map((r) => `${r[0]} / jpeg enhance time: ${(Number(r[1]) / jpegMs).toFixed(2)}`).join("; "));
}
if (nativeRows.length > 0) {
  const nHeader = ["job", "enhance ms (median)", "strength=0 ms", "native ms (sharp, 1 thread)", "enhance / native", "strength=0 / native"];
  const nWidths = nHeader.map((h, i) => Math.max(h.length, ...nativeRows.map((r) => r[i]!.length)));
  const nLine = (r: string[]) => "| " + r.map((c, i) => c.padEnd(nWidths[i]!)).join(" | ") + " |";
  console.log(`\nAgainst native libvips: POST /enhance (Worker in workerd) and sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}, one thread, no enhancement) on the same source, medians of ${runs} x ${workers.length} runs, interleaved`);
  console.log(nLine(nHeader));
  console.log("|" + nWidths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of nativeRows) console.log(nLine(r));
}
console.log(`\ncold start: workerd ready in ${startMs.toFixed(0)} ms; first request (1 MP JPEG) ${coldMs.toFixed(0)} ms; second ${secondMs.toFixed(0)} ms`);
