/**
 * WebAssembly (SIMD) versions of the two pixel loops that dominate a request's CPU time: the curves'
 * table path (`applyTable` in curves.ts) and the streamed guided filter (`filter` in denoise.ts),
 * compiled from AssemblyScript: assembly/pixels.ts, `npm run build:wasm` -> src/pixels.wasm.
 *
 * The module imports nothing. The image goes through the instance in bands of rows (copied in,
 * processed, copied out), so its memory is a few MB whatever the image size (the curve table's
 * rows, a band, a few rows of filter state) instead of a second copy of the image. Because that is
 * bounded, one instance serves the isolate (each job starts with `reset`, which zeroes and reuses
 * the last job's memory): a fresh instance per job cost page faults on its new memory, and each
 * discarded memory added to the garbage the next codec instance's allocation had to collect (in
 * workerd, 1 MP JPEG encodes after a per-job filter instance took 8 ms longer).
 *
 * Results: `denoiseWasm` equals `denoise` byte for byte (the same f64 operations on each value in
 * the same order; SIMD only runs values side by side), or within one level with `precision: "f32"`.
 * `applyCurvesWasm` is within one level of `applyCurves` on a few bytes in 100k (fixed-point table
 * positions and an f32 interpolation; see assembly/pixels.ts). test/pixels-wasm.test.ts checks both.
 */
import { applyCurves, curveTable, LUT_STEPS, type CurveMaps } from "./curves.ts";
import { denoise, DENOISE_DEFAULTS, type DenoiseSettings, type EpsGrid, type Gain } from "./denoise.ts";
import type { RgbaImage } from "./image.ts";

let compiled: WebAssembly.Module | undefined;
let live: PixelExports | undefined;

/** Take the module once per isolate/process (precompiled in Workers; bytes are compiled here, in Node). */
export function initPixels(wasm: WebAssembly.Module | BufferSource): void {
  if (compiled) return;
  const m = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
  new WebAssembly.Instance(m, {}); // fail now if it does not instantiate without imports
  compiled = m;
}

/** Whether initPixels has run. */
export function pixelsReady(): boolean {
  return compiled !== undefined;
}

/** Bytes of the kernels' one memory (it keeps the size of the largest job so far). */
export function pixelsMemory(): { bytes: number; peak: number } {
  const bytes = live ? live.memory.buffer.byteLength : 0;
  return { bytes, peak: bytes };
}

interface PixelExports {
  memory: WebAssembly.Memory;
  reset(): void;
  curvesInit(W: number, H: number, mapW: number, mapH: number, bandRows: number, row0: number, rows: number): number;
  curvesMaps(): number;
  curvesLut(): number;
  curvesTable(): void;
  curvesRun(y0: number, y1: number): void;
  filterInit(W: number, H: number, r: number, cols: number, rows: number, stepX: number, stepY: number, K: number, useF32: number): number;
  filterEps(): number;
  filterRun(t0: number, t1: number): number;
}

/** Bytes of image rows a job moves through its instance at a time (smaller was no slower). */
export const BAND_BYTES = 32 * 1024;

/** The isolate's instance, reset for a new job. Jobs are synchronous, so they never overlap. */
function instance(): PixelExports {
  if (!compiled) throw new Error("pixel kernels used before initPixels()");
  live ??= new WebAssembly.Instance(compiled, {}).exports as unknown as PixelExports;
  live.reset();
  return live;
}

// ---- curves ----------------------------------------------------------------------------------

const LUT_HALF = LUT_STEPS / 2;

/** Smallest and largest map value; NaN when one is not a number in [-1, 1] (the table path's condition). */
function unitRange(m: Float32Array): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < m.length; i++) {
    const v = m[i]!;
    if (!(v >= -1 && v <= 1)) return { min: NaN, max: NaN };
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/**
 * Images below this many pixels take the JS table path: a WASM job has a fixed cost (converting
 * the table rows to pairs, copies in and out), and JS and WASM broke even near 100k pixels.
 */
export const CURVES_WASM_MIN_PIXELS = 128 * 1024;

/**
 * `applyCurves` with the table path in WASM: same arguments, same result (within a level on a few
 * bytes in 100k). Small images, maps that do not take the table path (one map per iteration,
 * values outside [-1, 1], method "exact") and invalid arguments go to `applyCurves` itself.
 */
export function applyCurvesWasm(
  img: RgbaImage,
  maps: CurveMaps,
  iterations: number,
  strength: number,
  out: Uint8Array = img.data,
  method: "auto" | "exact" = "auto",
): RgbaImage {
  const { width: W, height: H } = img;
  const { width: cw, height: ch, channels: C, data: m } = maps;
  const wasm = W * H >= CURVES_WASM_MIN_PIXELS && C === 3 && method === "auto" && cw >= 1 && ch >= 1 && m.length === C * cw * ch && out.length === W * H * 4;
  const range = wasm ? unitRange(m) : undefined;
  if (!range || Number.isNaN(range.min)) return applyCurves(img, maps, iterations, strength, out, method);
  tableWasm(img, maps, curveTable(iterations, strength), out, range, BAND_BYTES);
  return { width: W, height: H, data: out };
}

/**
 * The table path: `lut` from `curveTable`, maps with 3 channels and values in [-1, 1]; writes into
 * `out` (which may be img.data).
 */
export function applyTableWasm(img: RgbaImage, maps: CurveMaps, lut: Float32Array, out: Uint8Array, bandBytes = BAND_BYTES): void {
  if (lut.length !== (LUT_STEPS + 1) * 256) throw new Error(`curve table holds ${lut.length} values, expected ${(LUT_STEPS + 1) * 256}`);
  const range = unitRange(maps.data);
  if (Number.isNaN(range.min) || maps.channels !== 3 || maps.width < 1 || maps.height < 1 || maps.data.length !== 3 * maps.width * maps.height) {
    throw new Error("the table path takes 3 map channels with values in [-1, 1]");
  }
  if (out.length !== img.width * img.height * 4) throw new Error("output buffer does not match the image size");
  tableWasm(img, maps, lut, out, range, bandBytes);
}

function tableWasm(img: RgbaImage, maps: CurveMaps, lut: Float32Array, out: Uint8Array, range: { min: number; max: number }, bandBytes: number): void {
  const { width: W, height: H, data: src } = img;
  if (W * H === 0) return;
  const { min, max } = range;
  // Only the table rows the maps reach (position (r + 1) * LUT_HALF, and a row of margin each
  // side): the whole table is 2 MB once it is (value, slope) pairs, and copying it costs.
  const row0 = Math.max(0, Math.floor((min + 1) * LUT_HALF) - 1);
  const rows = Math.min(LUT_STEPS, Math.ceil((max + 1) * LUT_HALF) + 1) - row0;
  const rowBytes = W * 4;
  const bandRows = Math.max(1, Math.min(H, Math.floor(bandBytes / rowBytes)));
  const e = instance();
  const band = e.curvesInit(W, H, maps.width, maps.height, bandRows, row0, rows);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Float32Array(buf, e.curvesMaps(), maps.data.length).set(maps.data);
  new Float32Array(buf, e.curvesLut(), (rows + 1) * 256).set(lut.subarray(row0 * 256, (row0 + rows + 1) * 256));
  e.curvesTable();
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  for (let y0 = 0; y0 < H; y0 += bandRows) {
    const y1 = Math.min(H, y0 + bandRows);
    const n = (y1 - y0) * rowBytes;
    mem.set(src.subarray(y0 * rowBytes, y0 * rowBytes + n));
    e.curvesRun(y0, y1);
    out.set(n === mem.length ? mem : mem.subarray(0, n), y0 * rowBytes);
  }
}

// ---- guided filter ---------------------------------------------------------------------------

export interface FilterOptions {
  /**
   * Stage 2 window sums in "f64" (as the JS: the same bytes) or "f32" (about 12% faster, within
   * one level of the JS on about 0.02% of bytes).
   */
  precision?: "f64" | "f32";
  /** Bytes of image rows moved through the instance per call (tests use small values to wrap the ring). */
  bandBytes?: number;
}

/** `denoise` with the filter in WASM: same arguments, same result, same return value. */
export function denoiseWasm(img: RgbaImage, gain: Gain, amount: number, s: DenoiseSettings = DENOISE_DEFAULTS, options: FilterOptions = {}): number {
  return denoise(img, gain, amount, s, (i, grid, r) => filterWasm(i, grid, r, options));
}

/** denoise.ts's `filter`: smooth `img` in place, stage 1 radius r (on the half-size copy), per-cell eps. */
export function filterWasm(img: RgbaImage, grid: EpsGrid, r: number, options: FilterOptions = {}): void {
  const { width: W, height: H, data } = img;
  if (W * H === 0) return;
  if (grid.eps.length !== grid.cols * grid.rows) throw new Error(`eps grid holds ${grid.eps.length} values, expected ${grid.cols}x${grid.rows}`);
  const rowBytes = W * 4;
  const h = (H + 1) >> 1;
  // B copy rows (2B source rows) per call. When a call starts at step t, every output row before
  // 2t - 4r is written (row y is done once copy row ((y + 2r) >> 1) + r is in), so the ring must
  // hold rows [2t - 4r, 2(t + B)): 2B + 4r rows (the check below guards it).
  const B = Math.max(4, Math.ceil((options.bandBytes ?? BAND_BYTES) / (2 * rowBytes)));
  const K = Math.min(H, 2 * B + 4 * r + 4);
  const e = instance();
  const ring = e.filterInit(W, H, r, grid.cols, grid.rows, grid.stepX, grid.stepY, K, options.precision === "f32" ? 1 : 0);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Float32Array(buf, e.filterEps(), grid.eps.length).set(grid.eps);
  const mem = new Uint8Array(buf, ring, K * rowBytes);
  let y = 0;
  for (let t = 0; t < h + r; t += B) {
    const t1 = Math.min(h + r, t + B);
    const a = Math.min(H, 2 * t), b = Math.min(H, 2 * t1);
    if (b - y > K) throw new Error(`filter ring too small: rows ${y}..${b} in ${K}`);
    // Source rows [a, b) in, row k in ring slot k % K.
    for (let k = a; k < b; ) {
      const s = k % K, n = Math.min(b - k, K - s);
      mem.set(data.subarray(k * rowBytes, (k + n) * rowBytes), s * rowBytes);
      k += n;
    }
    const y1 = e.filterRun(t, t1);
    // Output rows [y, y1) are final: out.
    for (let k = y; k < y1; ) {
      const s = k % K, n = Math.min(y1 - k, K - s);
      data.set(mem.subarray(s * rowBytes, (s + n) * rowBytes), k * rowBytes);
      k += n;
    }
    y = y1;
  }
  if (y !== H) throw new Error(`filter wrote ${y} of ${H} rows`);
}
