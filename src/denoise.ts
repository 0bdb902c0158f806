/**
 * Noise-aware smoothing after the curves. Brightening a dark region by a gain g lifts its sensor noise
 * by g too; a guided filter (He et al.) whose regularisation eps grows with the local gain smooths
 * that lifted noise and leaves edges, and leaves regions that were not brightened exactly as they are.
 *
 * Filter: a "joint" self-guided filter on luminance Y. Per pixel, over a (2r+1)^2 window,
 * A = var(Y) / (var(Y) + eps) and B_c = (1 - A) * mean(channel c); the output is
 * mean(A) * p_c + mean(B_c) for each RGB channel p_c. Flat regions (var << eps) take their window
 * mean, edges (var >> eps) keep their pixels. Smoothing follows luminance structure, so lifted colour
 * noise in flat areas goes too, at a third of the cost of three separate guided filters.
 *
 * Gain: block means of luminance before (`lumaGrid`, taken before the curves) and after the curves
 * give one gain per cell; eps = (amount * NOISE * (gain - 1))^2, interpolated between cell centres.
 * Gain <= 1 gives eps = 0, and eps = 0 gives A = 1, B = 0: the pixel is returned unchanged.
 *
 * Cost: O(pixels), box sums kept as running column sums and streamed row by row; memory is a few
 * rows (O(width * radius)) plus the cell grids, never a full-size plane.
 */
import type { RgbaImage } from "./image.ts";

export interface DenoiseSettings {
  /** Window radius in pixels (window 2r+1). */
  radius: number;
  /** Noise std (0..1 units) assumed per unit of extra gain, at amount 1. */
  noise: number;
  /** Upper bound of eps (0..1 units squared): the strongest smoothing. */
  maxEps: number;
  /** Side of a gain cell in pixels. */
  cell: number;
}

export const DENOISE_DEFAULTS: DenoiseSettings = { radius: 4, noise: 0.008, maxEps: 0.01, cell: 32 };

/** The amount `denoise: "auto"` (the default) stands for; see DENOISE_DEFAULTS.noise. */
export const DENOISE_AUTO = 1;

/** The amount to use for a `denoise` option: a number as given, "auto" or absent = DENOISE_AUTO. */
export function denoiseAmount(option: number | "auto" | undefined): number {
  return option === undefined || option === "auto" ? DENOISE_AUTO : option;
}

/** Luminance block means: cells of `cell` x `cell` pixels (the last row/column of cells may be smaller). */
export interface LumaGrid {
  width: number;
  height: number;
  cell: number;
  cols: number;
  rows: number;
  /** Mean luminance 0..255 per cell, row-major. */
  mean: Float32Array;
}

/** Rec. 709 luminance of 8-bit RGB as an integer 0..255 (weights 54/183/19 out of 256). */
function luma(r: number, g: number, b: number): number {
  return (54 * r + 183 * g + 19 * b + 128) >> 8;
}

/** Block-mean luminance of `img`; take it before the curves so `denoise` can tell how much each cell was brightened. */
export function lumaGrid(img: RgbaImage, cell: number = DENOISE_DEFAULTS.cell): LumaGrid {
  const { width: W, height: H, data: d } = img;
  const cols = Math.max(1, Math.ceil(W / cell));
  const rows = Math.max(1, Math.ceil(H / cell));
  const sum = new Float64Array(cols * rows);
  for (let y = 0; y < H; y++) {
    const rb = ((y / cell) | 0) * cols;
    for (let x = 0, p = y * W * 4; x < W; x++, p += 4) sum[rb + ((x / cell) | 0)]! += luma(d[p]!, d[p + 1]!, d[p + 2]!);
  }
  const mean = new Float32Array(cols * rows);
  for (let j = 0; j < rows; j++) {
    const ch = Math.min(cell, H - j * cell);
    for (let i = 0; i < cols; i++) mean[j * cols + i] = sum[j * cols + i]! / (ch * Math.min(cell, W - i * cell));
  }
  return { width: W, height: H, cell, cols, rows, mean };
}

/**
 * Per-cell eps (0..255 units squared) from the gain between `before` and `after`; all zero when no
 * cell was brightened. A small offset keeps near-black cells from reading as huge gains.
 */
export function cellEps(before: LumaGrid, after: LumaGrid, amount: number, s: DenoiseSettings = DENOISE_DEFAULTS): Float32Array {
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
 * Smooth `img` (the curves' output) in place where it was brightened relative to `before` (its
 * `lumaGrid` before the curves). `amount` 0..1 scales the assumed noise; 0 returns at once.
 * Returns whether anything was filtered.
 */
export function denoise(img: RgbaImage, before: LumaGrid, amount: number, s: DenoiseSettings = DENOISE_DEFAULTS): boolean {
  const { width: W, height: H } = img;
  if (before.width !== W || before.height !== H) {
    throw new Error(`luminance grid is for ${before.width}x${before.height}, the image is ${W}x${H}`);
  }
  if (!(amount >= 0 && amount <= 1)) throw new Error(`denoise amount must be in 0..1, got ${amount}`);
  if (!Number.isInteger(s.radius) || s.radius < 1) throw new Error(`denoise radius must be a positive integer, got ${s.radius}`);
  if (amount === 0 || W * H === 0) return false;
  const eps = cellEps(before, lumaGrid(img, before.cell), amount, s);
  if (eps.every((e) => e === 0)) return false;
  filter(img, before, eps, s.radius);
  return true;
}

/** Cell-centre interpolation taps along one axis: lower cell, upper cell, weight of the upper. */
function cellTaps(size: number, cell: number, cells: number): { lo: Int32Array; hi: Int32Array; f: Float32Array } {
  const lo = new Int32Array(size);
  const hi = new Int32Array(size);
  const f = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const u = Math.min(Math.max((i + 0.5) / cell - 0.5, 0), cells - 1);
    const l = Math.floor(u);
    lo[i] = l;
    hi[i] = Math.min(l + 1, cells - 1);
    f[i] = u - l;
  }
  return { lo, hi, f };
}

/**
 * The streamed guided filter. Step t loads source row t, finishes the coefficients of row t - r and
 * writes output row t - 2r. Source rows are copied into a ring first, so writing the output in place
 * never disturbs a row a window still needs. Column-sum arrays carry r zeros on each side so the
 * horizontal running sums need no bounds checks; a row of zeros stands in for rows outside the image.
 */
function filter(img: RgbaImage, grid: LumaGrid, eps: Float32Array, r: number): void {
  const { width: W, height: H, data } = img;
  const S = 2 * r + 2; // rows a ring holds: a window plus the row leaving it
  const ZERO = S; // index of the all-zero row after the ring
  const rowBytes = W * 4;
  const P = W + 2 * r; // padded width
  const src = new Uint8Array((S + 1) * rowBytes);
  const lum = new Uint8Array((S + 1) * W);
  // Stage 1 column sums over source rows (Y, Y^2, R, G, B), padded.
  const cs = new Int32Array(5 * P);
  // Stage 1 output ring (A, B_r, B_g, B_b per pixel) and stage 2 column sums over it, padded.
  const coef = new Float32Array((S + 1) * W * 4);
  const cc = new Float64Array(4 * P);
  // 1 / (columns inside the window) per x; rows are handled per row.
  const invCols = new Float64Array(W);
  for (let x = 0; x < W; x++) invCols[x] = 1 / (Math.min(W - 1, x + r) - Math.max(0, x - r) + 1);
  const epsCells = new Float32Array(grid.cols);
  const xs = cellTaps(W, grid.cell, grid.cols);
  const ys = cellTaps(H, grid.cell, grid.rows);
  const slot = (row: number): number => (row >= 0 && row < H ? row % S : ZERO);
  const invRows = (c: number): number => 1 / (Math.min(H - 1, c + r) - Math.max(0, c - r) + 1);

  for (let t = 0; t < H + 2 * r; t++) {
    if (t < H) {
      const o = (t % S) * rowBytes;
      src.set(data.subarray(t * rowBytes, (t + 1) * rowBytes), o);
      for (let x = 0, p = o, l = (t % S) * W; x < W; x++, p += 4) lum[l + x] = luma(src[p]!, src[p + 1]!, src[p + 2]!);
    }
    // Source window of stage 1 moves from rows [t-2r-1, t-1] to [t-2r, t].
    {
      const ni = slot(t), oi = slot(t - 2 * r - 1);
      if (ni !== ZERO || oi !== ZERO) {
        const np = ni * rowBytes, op = oi * rowBytes, nl = ni * W, ol = oi * W;
        for (let x = 0; x < W; x++) {
          const yn = lum[nl + x]!, yo = lum[ol + x]!, pn = np + 4 * x, po = op + 4 * x, k = 5 * (x + r);
          cs[k]! += yn - yo;
          cs[k + 1]! += yn * yn - yo * yo;
          cs[k + 2]! += src[pn]! - src[po]!;
          cs[k + 3]! += src[pn + 1]! - src[po + 1]!;
          cs[k + 4]! += src[pn + 2]! - src[po + 2]!;
        }
      }
    }

    const c1 = t - r; // stage 1: coefficients of row c1
    if (c1 >= 0 && c1 < H) {
      const j0 = ys.lo[c1]! * grid.cols, j1 = ys.hi[c1]! * grid.cols, fy = ys.f[c1]!;
      for (let i = 0; i < grid.cols; i++) epsCells[i] = eps[j0 + i]! + (eps[j1 + i]! - eps[j0 + i]!) * fy;
      const iy = invRows(c1);
      let sY = 0, sYY = 0, sR = 0, sG = 0, sB = 0;
      for (let k = 0; k < 10 * r; k += 5) {
        sY += cs[k]!; sYY += cs[k + 1]!; sR += cs[k + 2]!; sG += cs[k + 3]!; sB += cs[k + 4]!;
      }
      const o = (c1 % S) * W * 4;
      for (let x = 0; x < W; x++) {
        const k = 5 * (x + 2 * r);
        sY += cs[k]!; sYY += cs[k + 1]!; sR += cs[k + 2]!; sG += cs[k + 3]!; sB += cs[k + 4]!;
        const lo = epsCells[xs.lo[x]!]!;
        const e = lo + (epsCells[xs.hi[x]!]! - lo) * xs.f[x]!;
        const inv = iy * invCols[x]!;
        const m = sY * inv;
        const v = sYY * inv - m * m;
        const a = e > 0 ? (v > 0 ? v / (v + e) : 0) : 1; // eps 0: identity (A 1, B 0)
        const b = (1 - a) * inv;
        const p = o + 4 * x;
        coef[p] = a;
        coef[p + 1] = b * sR;
        coef[p + 2] = b * sG;
        coef[p + 3] = b * sB;
        const j = 5 * x;
        sY -= cs[j]!; sYY -= cs[j + 1]!; sR -= cs[j + 2]!; sG -= cs[j + 3]!; sB -= cs[j + 4]!;
      }
    }
    // Coefficient window of stage 2 moves from rows [c1-2r-1, c1-1] to [c1-2r, c1].
    {
      const ni = slot(c1), oi = slot(c1 - 2 * r - 1);
      if (ni !== ZERO || oi !== ZERO) {
        const np = ni * W * 4, op = oi * W * 4;
        for (let x = 0; x < W; x++) {
          const pn = np + 4 * x, po = op + 4 * x, k = 4 * (x + r);
          cc[k]! += coef[pn]! - coef[po]!;
          cc[k + 1]! += coef[pn + 1]! - coef[po + 1]!;
          cc[k + 2]! += coef[pn + 2]! - coef[po + 2]!;
          cc[k + 3]! += coef[pn + 3]! - coef[po + 3]!;
        }
      }
    }

    const c2 = t - 2 * r; // stage 2: output row c2
    if (c2 >= 0 && c2 < H) {
      const iy = invRows(c2);
      let sA = 0, sBr = 0, sBg = 0, sBb = 0;
      for (let k = 0; k < 8 * r; k += 4) {
        sA += cc[k]!; sBr += cc[k + 1]!; sBg += cc[k + 2]!; sBb += cc[k + 3]!;
      }
      const so = (c2 % S) * rowBytes;
      const out = c2 * rowBytes;
      for (let x = 0; x < W; x++) {
        const k = 4 * (x + 2 * r);
        sA += cc[k]!; sBr += cc[k + 1]!; sBg += cc[k + 2]!; sBb += cc[k + 3]!;
        const inv = iy * invCols[x]!;
        const a = sA * inv;
        const p = so + 4 * x;
        const q = out + 4 * x;
        // Where every coefficient in the window is (1, 0) this is the source pixel.
        data[q] = clampByte(a * src[p]! + sBr * inv);
        data[q + 1] = clampByte(a * src[p + 1]! + sBg * inv);
        data[q + 2] = clampByte(a * src[p + 2]! + sBb * inv);
        const j = 4 * x;
        sA -= cc[j]!; sBr -= cc[j + 1]!; sBg -= cc[j + 2]!; sBb -= cc[j + 3]!;
      }
    }
  }
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}
