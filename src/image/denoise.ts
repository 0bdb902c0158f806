/**
 * Noise-aware smoothing after the curves. Brightening a dark region by a gain g lifts its sensor noise
 * by g too; a guided filter (He et al.) whose regularisation eps grows with the local gain smooths
 * that lifted noise and keeps edges, and leaves regions that were not brightened exactly as they are.
 *
 * Filter: a "joint" self-guided filter on luminance Y. Per pixel, over a (2r+1)^2 window,
 * A = var(Y) / (var(Y) + eps) and B_c = (1 - A) * mean(channel c); the output is
 * mean(A) * p_c + mean(B_c) for each RGB channel p_c. Flat regions (var << eps) take their window
 * mean, edges (var >> eps) keep their pixels. Smoothing follows luminance structure, so lifted colour
 * noise in flat areas goes too (filtering luminance alone left most of LOL's SSIM loss), at about the
 * quality of three per-channel guided filters and a fraction of their cost.
 *
 * Speed: stage 1 (window statistics, A and B) runs on a 2x2-averaged copy, as in the "fast guided
 * filter" (He & Sun 2015); stage 2 (window means of A and B, and the output) runs at full size with
 * each copy pixel's coefficients standing for its 2x2 block, on a window no wider than the copy's,
 * so edges stay as sharp as with the full-size filter. On LOL it scored the same as the full-size
 * filter (radius 3) at about half the cost.
 *
 * Gain: block means of luminance (`lumaGrid`, gain.ts) before and after the curves give one gain per cell;
 * eps = (amount * noise * (gain - 1))^2, interpolated between cell centres. The pipeline measures
 * them on the estimation copy (the curves applied to a few thousand pixels, not two full-size passes):
 * gain is a smooth, regional quantity. Gain <= 1 gives eps = 0, and eps = 0 gives A = 1, B = 0: the
 * pixel is returned unchanged. `amount` "auto" follows the input's measured noise (`measureNoise` in noise.ts,
 * at full resolution, sampled), so clean photos, even when brightened, are barely touched.
 *
 * Cost: O(pixels); box sums are running column sums, streamed row by row, so memory is a few rows
 * (O(width): under 1 MB at 4000 px wide) plus the cell grids, never a full-size plane.
 */
import { GAIN_CELL, type Gain, type LumaGrid } from "./gain.ts";
import { luma709 } from "./luma.ts";
import type { RgbaImage } from "../shared/image.ts";

export interface DenoiseSettings {
  /** Window radius on the half-resolution copy (window 2r+1 there, about 4r+2 output pixels). */
  radius: number;
  /** Noise std (0..1 units) assumed per unit of extra gain, at amount 1. */
  noise: number;
  /** Upper bound of eps (0..1 units squared): the strongest smoothing. */
  maxEps: number;
  /** Side of a gain cell in pixels. */
  cell: number;
}

export const DENOISE_DEFAULTS: DenoiseSettings = { radius: 1, noise: 0.015, maxEps: 0.01, cell: GAIN_CELL };

/**
 * Per-cell eps (0..255 units squared) from the gain between `before` and `after`; all zero when no
 * cell was brightened. A small offset keeps near-black cells from reading as huge gains.
 */
export function cellEps(before: LumaGrid, after: LumaGrid, amount: number, s: DenoiseSettings = DENOISE_DEFAULTS): Float32Array {
  if (before.cols !== after.cols || before.rows !== after.rows) {
    throw new Error(`luminance grids differ: ${before.cols}x${before.rows} cells before the curves, ${after.cols}x${after.rows} after`);
  }
  const eps = new Float32Array(before.mean.length);
  const k = amount * s.noise * 255;
  const cap = s.maxEps * 255 * 255;
  for (let i = 0; i < eps.length; i++) {
    const gain = (after.mean[i]! + 2) / (before.mean[i]! + 2);
    const e = gain > 1 ? (k * (gain - 1)) ** 2 : 0;
    eps[i] = e > cap ? cap : e;
  }
  return eps;
}

/**
 * Smooth `img` (the curves' output) in place where `gain` says it was brightened. The grids may be
 * measured on a smaller copy of the same shape (the estimation copy: its cells then stand for
 * proportionally larger regions of `img`). `amount` 0..1 scales the assumed noise (0 returns at
 * once; see `denoiseAmount`). `run` is the filter itself (src/image/pixels.ts passes its WASM one, which
 * gives the same bytes). Returns the amount applied: 0 when nothing changed.
 */
export function denoise(
  img: RgbaImage,
  gain: Gain,
  amount: number,
  s: DenoiseSettings = DENOISE_DEFAULTS,
  run: (img: RgbaImage, grid: EpsGrid, radius: number) => void = filter,
): number {
  const { width: W, height: H } = img;
  const { before, after } = gain;
  if (before.width !== after.width || before.height !== after.height || before.cell !== after.cell) {
    throw new Error(`luminance grids differ: ${before.width}x${before.height} before the curves, ${after.width}x${after.height} after`);
  }
  if (!(amount >= 0 && amount <= 1)) throw new Error(`denoise amount must be in 0..1, got ${amount}`);
  if (!Number.isInteger(s.radius) || s.radius < 1) throw new Error(`denoise radius must be a positive integer, got ${s.radius}`);
  if (amount === 0 || W * H === 0) return 0;
  const eps = cellEps(before, after, amount, s);
  // eps of 1 level^2 or less only touches regions already flat to within about a level: skip the work.
  if (eps.every((e) => e <= 1)) return 0;
  // Cell size in img pixels along each axis.
  const stepX = (before.cell * W) / before.width;
  const stepY = (before.cell * H) / before.height;
  run(img, { cols: before.cols, rows: before.rows, stepX, stepY, eps }, s.radius);
  return amount;
}

/** Per-cell eps on `img`'s pixel grid: cells `stepX` x `stepY` pixels. */
export interface EpsGrid {
  cols: number;
  rows: number;
  stepX: number;
  stepY: number;
  eps: Float32Array;
}

/**
 * Linear interpolation taps from `size` positions onto `cells` samples whose centres are `step`
 * positions apart: lower sample, upper sample, weight of the upper. Position i sits at i + 0.5.
 */
export function taps(size: number, cells: number, step: number, offset = 0.5): { lo: Int32Array; hi: Int32Array; f: Float32Array } {
  const lo = new Int32Array(size);
  const hi = new Int32Array(size);
  const f = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const u = Math.min(Math.max((i + offset) / step - 0.5, 0), cells - 1);
    const l = Math.floor(u);
    lo[i] = l;
    hi[i] = Math.min(l + 1, cells - 1);
    f[i] = u - l;
  }
  return { lo, hi, f };
}

/**
 * The streamed filter. Stage 1 (window statistics and A, B) runs on the half-resolution copy, built
 * two source rows at a time; stage 2 (window means of A and B, and the output) runs at full
 * resolution with each copy pixel's coefficients standing for its 2x2 block, over a window (2r') no
 * wider than the copy windows, so every coefficient set it averages was fitted on a window that
 * covers the output pixel: edges come out as sharp as with the full-resolution filter.
 *
 * Step t adds copy row t and finishes the coefficients of copy row t - r, then writes every output
 * row whose stage 2 window is complete. Output rows are written in place strictly behind the source
 * rows the copy still reads; copy rows and coefficient rows stay in rings until their windows pass.
 * Stage 1 column sums carry r zeros on each side so its running sums need no bounds checks; an
 * all-zero row or column stands in for anything outside the image.
 */
// Twin on purpose: assembly/pixels.ts ports this filter (served path); this is the tested f64
// reference it matches byte for byte.
function filter(img: RgbaImage, grid: EpsGrid, r: number): void {
  const { width: W, height: H, data } = img;
  // Written through a clamped view: stores round and clamp to 0..255 themselves.
  const out = new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  const w = (W + 1) >> 1;
  const h = (H + 1) >> 1;
  const R = 2 * r; // stage 2 radius, in output pixels
  const S = 2 * r + 3; // rows a ring holds: a window, the row leaving it, one spare
  const ZERO = S; // the all-zero row after each ring
  const P = w + 2 * r; // padded width of the stage 1 column sums
  // Copy rows: R, G, B (2x2 means) and Y per pixel.
  const copy = new Float32Array((S + 1) * w * 4);
  // Stage 1 column sums over copy rows (Y, Y^2, R, G, B) and its output ring (A, B_r, B_g, B_b).
  const cs = new Float64Array(5 * P);
  const coef = new Float32Array((S + 1) * w * 4);
  // Stage 2 column sums per copy column (A, B_r, B_g, B_b) over output rows, plus a zero column.
  const cc = new Float64Array(4 * (w + 1));
  // Stage 2 running sums: output column x + R enters before pixel x, column x - R leaves after it;
  // as offsets into cc (the copy column holding them, or the zero column).
  const addAt = new Int32Array(W);
  const dropAt = new Int32Array(W);
  for (let x = 0; x < W; x++) {
    addAt[x] = 4 * (x + R < W ? (x + R) >> 1 : w);
    dropAt[x] = 4 * (x - R >= 0 ? (x - R) >> 1 : w);
  }
  const invCopyCols = new Float64Array(w);
  for (let i = 0; i < w; i++) invCopyCols[i] = 1 / (Math.min(w - 1, i + r) - Math.max(0, i - r) + 1);
  const invCols = new Float64Array(W);
  for (let x = 0; x < W; x++) invCols[x] = 1 / (Math.min(W - 1, x + R) - Math.max(0, x - R) + 1);
  const slot = (row: number): number => (row >= 0 && row < h ? row % S : ZERO);
  // eps per copy pixel: a copy pixel is 2 source pixels.
  const { eps } = grid;
  const epsCells = new Float32Array(grid.cols);
  const ex = taps(w, grid.cols, grid.stepX / 2);
  const ey = taps(h, grid.rows, grid.stepY / 2);
  let y = 0; // next output row

  // The per-row work is in small functions called once per row: V8 optimises those reliably, where
  // one large function with nested loops ran at half speed on some requests (on-stack replacement).
  for (let t = 0; t < h + r; t++) {
    if (t < h) copyRow(data, W, H, t, copy, (t % S) * w * 4, w);
    // Stage 1 window moves from copy rows [t-2r-1, t-1] to [t-2r, t].
    const sn = slot(t), so = slot(t - 2 * r - 1);
    if (sn !== ZERO || so !== ZERO) windowSums(copy, sn * w * 4, so * w * 4, cs, w, r);

    const c1 = t - r; // stage 1: coefficients of copy row c1
    if (c1 < 0) continue;
    const j0 = ey.lo[c1]! * grid.cols, j1 = ey.hi[c1]! * grid.cols, fy = ey.f[c1]!;
    for (let i = 0; i < grid.cols; i++) epsCells[i] = eps[j0 + i]! + (eps[j1 + i]! - eps[j0 + i]!) * fy;
    const iy = 1 / (Math.min(h - 1, c1 + r) - Math.max(0, c1 - r) + 1);
    coefRow(cs, coef, (c1 % S) * w * 4, w, r, epsCells, ex.lo, ex.hi, ex.f, iy, invCopyCols);

    // Stage 2: every output row whose window [y-R, y+R] has its coefficient rows.
    for (; y < H && (Math.min(H - 1, y + R) >> 1) <= c1; y++) {
      // Window moves from output rows [y-R-1, y+R-1] to [y-R, y+R].
      const an = y + R < H ? slot((y + R) >> 1) : ZERO;
      const ao = y - R - 1 >= 0 ? slot((y - R - 1) >> 1) : ZERO;
      moveSums(cc, coef, an * w * 4, ao * w * 4, 4 * w);
      if (y === 0) {
        // The first window also holds rows 0..R-1.
        for (let u = 0; u < R && u < H; u++) moveSums(cc, coef, slot(u >> 1) * w * 4, ZERO * w * 4, 4 * w);
      }
      const iy2 = 1 / (Math.min(H - 1, y + R) - Math.max(0, y - R) + 1);
      outputRow(data, out, y * W * 4, W, R, cc, addAt, dropAt, invCols, iy2);
    }
  }
}

/** Copy row t: mean of source rows 2t and 2t + 1 (one row at an odd bottom edge), pairs of columns, and its Y. */
function copyRow(data: Uint8Array, W: number, H: number, t: number, copy: Float32Array, o: number, w: number): void {
  const r0 = 2 * t * W * 4;
  const r1 = 2 * t + 1 < H ? r0 + W * 4 : r0;
  for (let i = 0; i < w; i++) {
    const p = 8 * i;
    const q = 2 * i + 1 < W ? p + 4 : p;
    const cr = (data[r0 + p]! + data[r0 + q]! + data[r1 + p]! + data[r1 + q]!) * 0.25;
    const cg = (data[r0 + p + 1]! + data[r0 + q + 1]! + data[r1 + p + 1]! + data[r1 + q + 1]!) * 0.25;
    const cb = (data[r0 + p + 2]! + data[r0 + q + 2]! + data[r1 + p + 2]! + data[r1 + q + 2]!) * 0.25;
    const k = o + 4 * i;
    copy[k] = cr;
    copy[k + 1] = cg;
    copy[k + 2] = cb;
    copy[k + 3] = luma709(cr, cg, cb);
  }
}

/** Stage 1 column sums: add the copy row at offset np, remove the one at op. */
function windowSums(copy: Float32Array, np: number, op: number, cs: Float64Array, w: number, r: number): void {
  for (let i = 0; i < w; i++) {
    const pn = np + 4 * i, po = op + 4 * i, k = 5 * (i + r);
    const yn = copy[pn + 3]!, yo = copy[po + 3]!;
    cs[k]! += yn - yo;
    cs[k + 1]! += yn * yn - yo * yo;
    cs[k + 2]! += copy[pn]! - copy[po]!;
    cs[k + 3]! += copy[pn + 1]! - copy[po + 1]!;
    cs[k + 4]! += copy[pn + 2]! - copy[po + 2]!;
  }
}

/** Stage 1 coefficients (A, B_r, B_g, B_b) of one copy row from the column sums, into coef at offset o. */
function coefRow(
  cs: Float64Array, coef: Float32Array, o: number, w: number, r: number, epsCells: Float32Array,
  exLo: Int32Array, exHi: Int32Array, exF: Float32Array, iy: number, invCopyCols: Float64Array,
): void {
  let sY = 0, sYY = 0, sR = 0, sG = 0, sB = 0;
  for (let k = 0; k < 10 * r; k += 5) {
    sY += cs[k]!; sYY += cs[k + 1]!; sR += cs[k + 2]!; sG += cs[k + 3]!; sB += cs[k + 4]!;
  }
  for (let i = 0; i < w; i++) {
    const k = 5 * (i + 2 * r);
    sY += cs[k]!; sYY += cs[k + 1]!; sR += cs[k + 2]!; sG += cs[k + 3]!; sB += cs[k + 4]!;
    const lo = epsCells[exLo[i]!]!;
    const e = lo + (epsCells[exHi[i]!]! - lo) * exF[i]!;
    const inv = iy * invCopyCols[i]!;
    const m = sY * inv;
    const v = sYY * inv - m * m;
    const a = e > 0 ? (v > 0 ? v / (v + e) : 0) : 1; // eps 0: identity (A 1, B 0)
    const b = (1 - a) * inv;
    const p = o + 4 * i;
    coef[p] = a;
    coef[p + 1] = b * sR;
    coef[p + 2] = b * sG;
    coef[p + 3] = b * sB;
    const j = 5 * i;
    sY -= cs[j]!; sYY -= cs[j + 1]!; sR -= cs[j + 2]!; sG -= cs[j + 3]!; sB -= cs[j + 4]!;
  }
}

/** Stage 2 column sums: add the coefficient row at offset np, remove the one at op (n values). */
function moveSums(cc: Float64Array, coef: Float32Array, np: number, op: number, n: number): void {
  for (let k = 0; k < n; k++) cc[k]! += coef[np + k]! - coef[op + k]!;
}

/** Stage 2 output row at offset q: window means of the coefficients applied to each pixel. */
function outputRow(
  data: Uint8Array, out: Uint8ClampedArray, q: number, W: number, R: number, cc: Float64Array,
  addAt: Int32Array, dropAt: Int32Array, invCols: Float64Array, iy2: number,
): void {
  let sA = 0, sBr = 0, sBg = 0, sBb = 0;
  for (let x = 0; x < R && x < W; x++) {
    const k = 4 * (x >> 1);
    sA += cc[k]!; sBr += cc[k + 1]!; sBg += cc[k + 2]!; sBb += cc[k + 3]!;
  }
  for (let x = 0; x < W; x++, q += 4) {
    const k = addAt[x]!;
    sA += cc[k]!; sBr += cc[k + 1]!; sBg += cc[k + 2]!; sBb += cc[k + 3]!;
    const inv = iy2 * invCols[x]!;
    const a = sA * inv;
    // Where every coefficient in the window is (1, 0) this is the source pixel.
    out[q] = a * data[q]! + sBr * inv;
    out[q + 1] = a * data[q + 1]! + sBg * inv;
    out[q + 2] = a * data[q + 2]! + sBb * inv;
    const d = dropAt[x]!;
    sA -= cc[d]!; sBr -= cc[d + 1]!; sBg -= cc[d + 2]!; sBb -= cc[d + 3]!;
  }
}
