/**
 * WebAssembly (SIMD) versions of the pixel loops that dominate a request's CPU time: the curves'
 * table path (`applyTable` in curves.ts), the streamed guided filter (`filter` in denoise.ts), the
 * noise measurement (`measureNoise` in noise.ts), the area downscale of the estimation copy
 * (`areaDownscale` in resize.ts), compiled from AssemblyScript: assembly/pixels.ts,
 * `npm run build:wasm` -> src/image/pixels.wasm.
 *
 * The module imports nothing. The image goes through the instance in bands of rows (copied in,
 * processed, copied out), so its memory is a few MB whatever the image size (the curve table's
 * rows, a band, a few rows of filter state; the chroma pass adds its coefficient planes, at most
 * 33 bytes per copy pixel, 8.6 MB at chroma.ts's COPY_MAX_PIXELS) instead of a second copy of the image. Because that is
 * bounded, one instance serves the isolate (each job starts with `reset`, which zeroes and reuses
 * the last job's memory): a fresh instance per job paid page faults on its new memory every time
 * and left a discarded memory per job for the GC.
 *
 * Results: `denoiseWasm` equals `denoise` byte for byte (the same f64 operations on each value in
 * the same order; SIMD only runs values side by side), or within one level with `precision: "f32"`.
 * `applyCurvesWasm` is within one level of `applyCurves` on a few bytes in 100k (fixed-point table
 * positions and an f32 interpolation; see assembly/pixels.ts). `measureNoiseWasm` returns
 * `measureNoise`'s number and `areaDownscaleWasm` `areaDownscale`'s bytes, exactly.
 * The noise floor (`desaturateFloor` in floor.ts) runs inside the curves pass, with its bytes.
 * test/image/pixels-wasm.test.ts and floor.test.ts check them all. The same module's other kernels
 * have their wrappers beside it: the area downscale in area-kernel.ts, the chroma pass in
 * colour-kernels.ts, the deep-shadow pass in shadow-kernels.ts.
 */
import { applyCurves, curveTable, LUT_STEPS, MAX_STRENGTH, strengthAffine, type CurveMaps } from "./curves.ts";
import { desaturateFloor, FLOOR_REACH, floorTable } from "./floor.ts";
import { denoise, DENOISE_DEFAULTS, type DenoiseSettings, type EpsGrid } from "./denoise.ts";
import type { Gain } from "./gain.ts";
import { addCellSigma, measureNoise, NOISE_CELL, noiseReading, noiseStride } from "./noise.ts";
import type { RgbaImage } from "../shared/image.ts";

let compiled: WebAssembly.Module | undefined;
let live: PixelExports | undefined;

/** Take the module once per isolate/process (precompiled in Workers; bytes are compiled here, in Node). */
export function initPixels(wasm: WebAssembly.Module | BufferSource): void {
  if (compiled) return;
  const m = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
  // The isolate's one instance, made now so a module that needs imports fails at start-up.
  live = new WebAssembly.Instance(m, {}).exports as unknown as PixelExports;
  compiled = m;
}

/** Bytes of the kernels' one memory (it keeps the size of the largest job so far). */
export function pixelsMemory(): { bytes: number; peak: number } {
  const bytes = live ? live.memory.buffer.byteLength : 0;
  return { bytes, peak: bytes };
}

export interface PixelExports {
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
  noiseInit(W: number, H: number, cell: number, k: number, cols: number, rows: number, bandRows: number): number;
  noiseOut(): number;
  noiseRun(y0: number, y1: number): void;
  areaInit(W: number, H: number, w: number, h: number, bandRows: number, outRows: number, norm: number): number;
  areaStart(): number;
  areaEnd(): number;
  areaExact(): number;
  areaSplit(): number;
  areaYTo(): number;
  areaYW(): number;
  areaOut(): number;
  areaRun(y0: number, y1: number): number;
  areaFinish(): number;
  chromaInit(W: number, w: number, h: number, f: number, bandRows: number): number;
  chromaEps(): number;
  chromaLo(): number;
  chromaHi(): number;
  chromaFx(): number;
  chromaSums(): number;
  chromaSumRows(n: number): void;
  chromaBlockRow(j: number, bh: number): void;
  chromaCoefficients(r: number): void;
  chromaApplyRows(y0: number, n: number): void;
  floorInit(reach: number): number;
  floorRun(band: number, pixels: number): number;
  shadowsInit(W: number, H: number, w: number, h: number, runs: number, bandRows: number): number;
  shadowsCells(): number;
  shadowsStart(): number;
  shadowsA(): number;
  shadowsB(): number;
  shadowsFx(): number;
  shadowsTyLo(): number;
  shadowsTyHi(): number;
  shadowsTyF(): number;
  shadowsRun(y0: number, n: number): void;
  peaksInit(W: number, H: number, cols: number, rows: number, bandRows: number): number;
  peaksXStart(): number;
  peaksYCell(): number;
  peaksOut(): number;
  peaksRun(y0: number, n: number): void;
  dctInit(W: number, H: number, rows: number, cols: number, gridRows: number, stepX: number, stepY: number, K: number): number;
  dctEps(): number;
  dctRun(ya: number, yb: number, r0: number, r1: number): void;
}

/** Bytes of image rows a job moves through its instance at a time (smaller was no slower). */
export const BAND_BYTES = 32 * 1024;

/** The isolate's instance, reset for a new job. Jobs are synchronous, so they never overlap. */
export function instance(): PixelExports {
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
 * bytes in 100k). Images under `options.minPixels` (default CURVES_WASM_MIN_PIXELS), maps that do not
 * take the table path (one map per iteration, values outside [-1, 1], method "exact") and invalid
 * arguments go to `applyCurves` itself. With `curveOptions.floor`, the noise floor's colour
 * (floor.ts) is desaturated first, in the same pass over the image (in place only).
 */
export function applyCurvesWasm(
  img: RgbaImage,
  maps: CurveMaps,
  iterations: number,
  strength: number,
  out: Uint8Array = img.data,
  method: "auto" | "exact" = "auto",
  options: KernelOptions & { floor?: boolean } = {},
): RgbaImage {
  const { width: W, height: H } = img;
  if (options.floor && out !== img.data) throw new Error("the floor is desaturated in place: out must be the image's own data");
  const { width: cw, height: ch, channels: C, data: m } = maps;
  const minPixels = options.minPixels ?? CURVES_WASM_MIN_PIXELS;
  const wasm = strength >= 0 && strength <= MAX_STRENGTH && W * H >= minPixels && W * H > 0 && C === 3 && method === "auto" && cw >= 1 && ch >= 1 && m.length === C * cw * ch && out.length === W * H * 4;
  const range = wasm ? unitRange(m) : undefined;
  if (!range || Number.isNaN(range.min)) {
    if (options.floor) desaturateFloor(img);
    return applyCurves(img, maps, iterations, strength, out, method);
  }
  // As applyCurves: the strength-1 table (built once), with the maps (so the positions) mapped
  // affinely; scale >= 0, so the range's ends map to the new range's ends.
  const { scale, offset } = strengthAffine(strength);
  const scaled = strength === 1 ? maps : { ...maps, data: m.map((v) => v * scale + offset) };
  tableWasm(img, scaled, curveTable(iterations, 1), out, { min: range.min * scale + offset, max: range.max * scale + offset }, options.bandBytes ?? BAND_BYTES, options.floor ?? false);
  return { width: W, height: H, data: out };
}

function tableWasm(img: RgbaImage, maps: CurveMaps, lut: Float32Array, out: Uint8Array, range: { min: number; max: number }, bandBytes: number, floor: boolean): void {
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
  const table = floor ? e.floorInit(FLOOR_REACH) : 0;
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  if (floor) new Float32Array(buf, table, FLOOR_REACH + 1).set(floorTable());
  new Float32Array(buf, e.curvesMaps(), maps.data.length).set(maps.data);
  new Float32Array(buf, e.curvesLut(), (rows + 1) * 256).set(lut.subarray(row0 * 256, (row0 + rows + 1) * 256));
  e.curvesTable();
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  for (let y0 = 0; y0 < H; y0 += bandRows) {
    const y1 = Math.min(H, y0 + bandRows);
    const n = (y1 - y0) * rowBytes;
    mem.set(src.subarray(y0 * rowBytes, y0 * rowBytes + n));
    if (floor) e.floorRun(band, (y1 - y0) * W);
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
function filterWasm(img: RgbaImage, grid: EpsGrid, r: number, options: FilterOptions = {}): void {
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

// ---- noise measurement -----------------------------------------------------------------------

export interface KernelOptions {
  /** Bytes of image rows moved through the instance per call (tests use small values: one row per call). */
  bandBytes?: number;
  /** Smaller images go to the JS function (tests pass 0 to run the kernel at every size). */
  minPixels?: number;
}

/**
 * Images below this many pixels are measured by `measureNoise` itself: its cost there is a few
 * microseconds, about what resetting the instance after a larger job costs (WASM was faster from
 * 64x48 up, 10x at 1 MP).
 */
export const NOISE_WASM_MIN_PIXELS = 2048;

/**
 * `measureNoise` with the per-cell sums in WASM: same arguments, the same number (the sums are
 * integers, exact in both, and the percentile is taken as in the JS). Only the sampled cell rows
 * (and the row below each) go through the instance, in bands.
 */
export function measureNoiseWasm(img: RgbaImage, cell: number = NOISE_CELL, options: KernelOptions = {}): number {
  const { width: W, height: H, data } = img;
  // (Cells past 2^16 pixels would overflow the kernel's i32 cell arithmetic: the JS takes them.)
  if (W * H < (options.minPixels ?? NOISE_WASM_MIN_PIXELS) || W * H === 0 || !Number.isInteger(cell) || cell < 1 || cell > 65536 || data.length !== W * H * 4) {
    return measureNoise(img, cell);
  }
  // As in measureNoise.
  const cols = Math.max(1, Math.ceil(W / cell));
  const rows = Math.max(1, Math.ceil(H / cell));
  const k = noiseStride(cols, rows);
  const rowBytes = W * 4;
  const bandRows = Math.max(1, Math.min(H, Math.floor((options.bandBytes ?? BAND_BYTES) / rowBytes)));
  const e = instance();
  const band = e.noiseInit(W, H, cell, k, cols, rows, bandRows);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  // Each sampled cell row and the row below it, in increasing order (with k = 1 they touch).
  let fed = 0;
  for (let j = 0; j < rows; j += k) {
    const y1 = Math.min(H, j * cell + cell + 1);
    for (let y = Math.max(fed, j * cell); y < y1; y += bandRows) {
      const n = Math.min(y1, y + bandRows) - y;
      mem.set(data.subarray(y * rowBytes, (y + n) * rowBytes));
      e.noiseRun(y, y + n);
    }
    fed = y1;
  }
  const nc = Math.ceil(cols / k);
  const sums = new Float64Array(buf, e.noiseOut(), Math.ceil(rows / k) * nc * 3);
  // The rest of measureNoise, on the same sums.
  const sigmas: number[] = [];
  for (let j = 0, q = 0; j < rows; j += k) {
    const ch = Math.min(H, j * cell + cell) - j * cell;
    for (let i = 0; i < cols; i += k, q += 3) addCellSigma(sigmas, sums[q]!, sums[q + 1]!, sums[q + 2]! / (ch * Math.min(cell, W - i * cell)));
  }
  return noiseReading(sigmas);
}
