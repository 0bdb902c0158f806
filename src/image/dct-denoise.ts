/**
 * The strong denoiser (`denoise=strong`): sliding-window DCT shrinkage (Yu & Sapiro, "DCT image
 * denoising", IPOL 2011) in two passes as in BM3D's two steps, without the block matching.
 *
 * The image is turned into three orthonormal opponent planes (Y = (R+G+B)/sqrt3, (R-B)/sqrt2,
 * (R-2G+B)/sqrt6: white RGB noise stays white and of the same std in each). In each plane, 8x8
 * patches every 2 pixels are transformed by the 2-D DCT; pass 1 zeroes the coefficients under
 * HARD_K sigma (hard threshold) and averages the patches back, weighted by 1 / (kept coefficients):
 * the pilot. Pass 2 shrinks the noisy patches' coefficients by the pilot's empirical Wiener gain
 * P^2 / (P^2 + sigma^2) and averages them weighted by 1 / (1 + sum of squared gains). Both passes
 * weight a patch's pixels by a Kaiser window as they average them back.
 * sigma is the lifted noise std where the patch lies: sqrt(eps) of the guided filter's eps grid
 * (denoise.ts: amount * noise * (gain - 1)), so a region that was not brightened is left as it is.
 *
 * Why: the guided filter (denoise.ts) smooths flat areas but keeps noise that has structure, like a
 * JPEG's blocks of quantised noise; DCT shrinkage separates what is coherent over a patch from what
 * is not. It scores higher than the guided filter on LOL and on phone-style night JPEGs, at
 * several times the cost (docs/quality.md, docs/performance.md).
 *
 * Speed: the 2-D transform is separable, so each 8-pixel row segment is transformed once (not once
 * per patch that holds it) and the patches' inverse transforms are summed in that row-transformed
 * domain before one inverse per segment. The 1-D transforms are split into even and odd halves
 * (22 multiplications instead of 64). Memory: the image is processed in bands of output rows with
 * 14 rows of margin on each side (what pass 2's patches read of the pilot, and what the pilot's
 * patches read of the image), so it holds a band's planes, never the whole image's.
 *
 * This is the tested reference; the served path is its WASM port (dct-kernel.ts).
 */
import { cellEps, DENOISE_DEFAULTS, taps, type EpsGrid } from "./denoise.ts";
import type { Gain } from "./gain.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Patch side and step. */
export const PATCH = 8;
export const PATCH_STEP = 2;
/** Pass 1 keeps coefficients of magnitude HARD_K * sigma and above. */
export const HARD_K = 2.7;
/** Rows each band reads beyond its output rows, on each side. */
export const MARGIN = 2 * (PATCH - 1);
/** Output rows per band. */
export const BAND_ROWS = 64;

const S = Math.SQRT1_2;
const C1 = Math.cos(Math.PI / 8), C3 = Math.cos((3 * Math.PI) / 8);
/** Odd rows of the DCT matrix (k = 1, 3, 5, 7), times 1/2, on the first four samples. */
export const ODD = (() => {
  const m = new Float64Array(16);
  for (let j = 0; j < 4; j++) for (let n = 0; n < 4; n++) m[j * 4 + n] = 0.5 * Math.cos((Math.PI * (2 * n + 1) * (2 * j + 1)) / 16);
  return m;
})();

/** Orthonormal 8-point DCT-II of x[i0 + n * stride] into y[at + k * ostride]. */
export function dct8(x: ArrayLike<number>, i0: number, stride: number, y: Float32Array | Float64Array, at: number, ostride: number): void {
  const x0 = x[i0]!, x1 = x[i0 + stride]!, x2 = x[i0 + 2 * stride]!, x3 = x[i0 + 3 * stride]!;
  const x4 = x[i0 + 4 * stride]!, x5 = x[i0 + 5 * stride]!, x6 = x[i0 + 6 * stride]!, x7 = x[i0 + 7 * stride]!;
  const e0 = x0 + x7, e1 = x1 + x6, e2 = x2 + x5, e3 = x3 + x4;
  const o0 = x0 - x7, o1 = x1 - x6, o2 = x2 - x5, o3 = x3 - x4;
  const ee0 = e0 + e3, ee1 = e1 + e2, eo0 = e0 - e3, eo1 = e1 - e2;
  y[at] = 0.5 * S * (ee0 + ee1);
  y[at + 4 * ostride] = 0.5 * S * (ee0 - ee1);
  y[at + 2 * ostride] = 0.5 * (C1 * eo0 + C3 * eo1);
  y[at + 6 * ostride] = 0.5 * (C3 * eo0 - C1 * eo1);
  for (let j = 0; j < 4; j++) {
    y[at + (2 * j + 1) * ostride] = ODD[j * 4]! * o0 + ODD[j * 4 + 1]! * o1 + ODD[j * 4 + 2]! * o2 + ODD[j * 4 + 3]! * o3;
  }
}

/** Inverse of dct8 (its transpose), into y[o0 + n * ostride]. */
export function idct8(X: ArrayLike<number>, i0: number, stride: number, y: Float32Array | Float64Array, o0: number, ostride: number): void {
  const X0 = X[i0]!, X2 = X[i0 + 2 * stride]!, X4 = X[i0 + 4 * stride]!, X6 = X[i0 + 6 * stride]!;
  const X1 = X[i0 + stride]!, X3 = X[i0 + 3 * stride]!, X5 = X[i0 + 5 * stride]!, X7 = X[i0 + 7 * stride]!;
  const a = 0.5 * S * (X0 + X4), b = 0.5 * S * (X0 - X4);
  const d0 = 0.5 * (C1 * X2 + C3 * X6), d1 = 0.5 * (C3 * X2 - C1 * X6);
  const E0 = a + d0, E3 = a - d0, E1 = b + d1, E2 = b - d1;
  const E = [E0, E1, E2, E3];
  for (let n = 0; n < 4; n++) {
    const O = ODD[n]! * X1 + ODD[4 + n]! * X3 + ODD[8 + n]! * X5 + ODD[12 + n]! * X7;
    y[o0 + n * ostride] = E[n]! + O;
    y[o0 + (7 - n) * ostride] = E[n]! - O;
  }
}

/**
 * The noise std on a lossily coded source, over the guided filter's model: the codec's quantisation
 * adds noise that the noise measurement cannot see (docs/quality.md).
 */
export const STRONG_LOSSY_SIGMA = 1.2;

/**
 * `denoise: "strong"`: smooth `img` (the curves' output) in place where `gain` says it was brightened,
 * with noise std sqrt(eps) of the guided filter's eps for `amount` (denoise.ts's `cellEps`), times
 * STRONG_LOSSY_SIGMA on a `lossy` source. `run` is the denoiser (dct-kernel.ts passes its WASM one).
 * Returns the amount applied: 0 when nothing changed.
 */
export function strongDenoise(img: RgbaImage, gain: Gain, amount: number, lossy: boolean, run: (img: RgbaImage, grid: EpsGrid) => void = dctDenoise): number {
  const { before, after } = gain;
  if (!(amount >= 0 && amount <= 1)) throw new Error(`denoise amount must be in 0..1, got ${amount}`);
  if (amount === 0 || img.width * img.height === 0) return 0;
  const eps = cellEps(before, after, amount, DENOISE_DEFAULTS);
  // As the guided filter: noise of a level or less is left.
  if (eps.every((e) => e <= 1)) return 0;
  if (lossy) for (let i = 0; i < eps.length; i++) eps[i] = eps[i]! * STRONG_LOSSY_SIGMA * STRONG_LOSSY_SIGMA;
  const stepX = (before.cell * img.width) / before.width;
  const stepY = (before.cell * img.height) / before.height;
  run(img, { cols: before.cols, rows: before.rows, stepX, stepY, eps });
  return amount;
}

/**
 * Each patch's pixels are averaged back weighted by a Kaiser window (beta 2, as BM3D's
 * aggregation), separable: the patch's edges, which its transform reproduces worst, count least.
 */
export const KAISER_BETA = 2;
export const WINDOW = Float64Array.from({ length: PATCH }, (_, n) => besselI0(KAISER_BETA * Math.sqrt(1 - ((2 * n) / (PATCH - 1) - 1) ** 2)) / besselI0(KAISER_BETA));

/** Modified Bessel function of the first kind, order 0 (its series; 20 terms are exact in f64 for x <= 2). */
function besselI0(x: number): number {
  let s = 1, t = 1;
  for (let k = 1; k < 20; k++) {
    t *= (x / (2 * k)) ** 2;
    s += t;
  }
  return s;
}

/** Patch origins along a side of `size` pixels: every PATCH_STEP, and the last one flush with the edge. */
export function origins(size: number): Int32Array {
  const o: number[] = [];
  for (let x = 0; x + PATCH <= size; x += PATCH_STEP) o.push(x);
  if (o.length && o[o.length - 1] !== size - PATCH) o.push(size - PATCH);
  return Int32Array.from(o);
}

/**
 * Denoise `img` in place with the noise std sqrt(eps) of `grid` (eps in 8-bit levels squared, as
 * the guided filter's). Images under a patch on a side are left as they are.
 */
export function dctDenoise(img: RgbaImage, grid: EpsGrid): void {
  const { width: W, height: H, data } = img;
  if (W < PATCH || H < PATCH) return;
  const xs = origins(W), ys = origins(H);
  const nx = xs.length;
  // sigma per patch column: taps at patch centres.
  const sx = taps(W, grid.cols, grid.stepX);
  const sy = taps(H, grid.rows, grid.stepY);
  const sigmaRow = new Float32Array(grid.cols);
  const sigma = new Float32Array(nx);
  const rows = BAND_ROWS + 2 * MARGIN;
  const planes = [0, 1, 2].map(() => new Float32Array(rows * W));
  const pilot = new Float32Array(rows * W);
  const hs = new Float32Array(rows * nx * 8); // row-transformed segments of the plane
  const hp = new Float32Array(rows * nx * 8); // ... and of the pilot
  const acc = new Float32Array(rows * nx * 8);
  const wt = new Float32Array(rows * nx);
  const blk = new Float64Array(64), pblk = new Float64Array(64), tmp = new Float64Array(64);
  const kept = new Uint8Array(MARGIN * W * 4);
  const invSqrt3 = 1 / Math.sqrt(3), invSqrt2 = Math.SQRT1_2, invSqrt6 = 1 / Math.sqrt(6);

  let r0 = 0; // the band's first row
  for (let ya = 0; ya < H; ya += BAND_ROWS) {
    const yb = Math.min(H, ya + BAND_ROWS);
    r0 = Math.max(0, ya - MARGIN);
    const r1 = Math.min(H, yb + MARGIN);
    const R = r1 - r0;
    // Opponent planes of rows [r0, r1): rows above ya were written by the last band, their source is in `kept`.
    for (let y = r0; y < r1; y++) {
      const src = y < ya ? kept : data;
      const o = y < ya ? (y - (ya - MARGIN)) * W * 4 : y * W * 4;
      for (let x = 0, p = o, i = (y - r0) * W; x < W; x++, p += 4, i++) {
        const r = src[p]!, g = src[p + 1]!, b = src[p + 2]!;
        planes[0]![i] = (r + g + b) * invSqrt3;
        planes[1]![i] = (r - b) * invSqrt2;
        planes[2]![i] = (r - 2 * g + b) * invSqrt6;
      }
    }
    for (let c = 0; c < 3; c++) {
      const plane = planes[c]!;
      rowTransform(plane, 0, R, W, xs, hs);
      // Pass 1: every patch inside the band's rows.
      pass(r0, r1 - PATCH, false);
      // Pilot rows that pass 2 reads: [ya - 7, yb + 7) within the band.
      const p0 = Math.max(r0, ya - (PATCH - 1)), p1 = Math.min(r1, yb + PATCH - 1);
      rowInverse(acc, wt, p0 - r0, p1 - r0, W, xs, pilot);
      rowTransform(pilot, p0 - r0, p1 - r0, W, xs, hp);
      // Pass 2: the patches that hold an output row.
      pass(ya - (PATCH - 1), yb - 1, true);
      // The plane's output rows, over its own input (its other rows are not read again).
      rowInverse(acc, wt, ya - r0, yb - r0, W, xs, plane);
    }
    // The next band reads the source of this band's last MARGIN rows.
    if (yb < H) kept.set(data.subarray((yb - MARGIN) * W * 4, yb * W * 4));
    for (let y = ya; y < yb; y++) {
      for (let x = 0, p = (y * W) * 4, i = (y - r0) * W; x < W; x++, p += 4, i++) {
        const Y = planes[0]![i]! * invSqrt3, a = planes[1]![i]! * invSqrt2, b = planes[2]![i]! * invSqrt6;
        data[p] = clamp(Y + a + b);
        data[p + 1] = clamp(Y - 2 * b);
        data[p + 2] = clamp(Y - a + b);
      }
    }
  }

  /**
   * One pass over the patches whose first row y0 is in [from, to] (band rows from r0), into acc and
   * wt: hard threshold (pass 1) or Wiener shrinkage by the pilot's coefficients (pass 2).
   */
  function pass(from: number, to: number, wiener: boolean): void {
    acc.fill(0); wt.fill(0);
    for (const y0 of ys) {
      if (y0 < from || y0 > to) continue;
      patchSigmas(y0);
      for (let i = 0; i < nx; i++) {
        const s = sigma[i]!;
        const base = ((y0 - r0) * nx + i) * 8;
        colTransform(hs, base, nx * 8, blk);
        let w = 1 / 64; // no noise: the patch as it is
        if (s > 0 && !wiener) {
          const T = HARD_K * s;
          let kept = 1;
          for (let k = 1; k < 64; k++) {
            if (Math.abs(blk[k]!) < T) blk[k] = 0;
            else kept++;
          }
          w = 1 / kept;
        } else if (s > 0) {
          colTransform(hp, base, nx * 8, pblk);
          const s2 = s * s;
          let e = 1;
          for (let k = 1; k < 64; k++) {
            const p2 = pblk[k]! * pblk[k]!;
            const g = p2 / (p2 + s2);
            blk[k] = blk[k]! * g;
            e += g * g;
          }
          w = 1 / e;
        }
        colInverseAdd(blk, tmp, acc, base, nx * 8, w);
        for (let v = 0; v < PATCH; v++) wt[(y0 - r0 + v) * nx + i]! += w * WINDOW[v]!;
      }
    }
  }

  /** sigma of each patch whose rows start at y0 (at its centre). */
  function patchSigmas(y0: number): void {
    const yc = y0 + PATCH / 2;
    const j0 = sy.lo[yc]! * grid.cols, j1 = sy.hi[yc]! * grid.cols, fy = sy.f[yc]!;
    for (let i = 0; i < grid.cols; i++) sigmaRow[i] = grid.eps[j0 + i]! + (grid.eps[j1 + i]! - grid.eps[j0 + i]!) * fy;
    for (let i = 0; i < nx; i++) {
      const xc = xs[i]! + PATCH / 2;
      const lo = sigmaRow[sx.lo[xc]!]!;
      const e = lo + (sigmaRow[sx.hi[xc]!]! - lo) * sx.f[xc]!;
      sigma[i] = e > 0 ? Math.sqrt(e) : 0;
    }
  }
}

function clamp(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Row transform of rows [a, b) of `plane` (W wide): 8 coefficients per patch column. */
function rowTransform(plane: Float32Array, a: number, b: number, W: number, xs: Int32Array, out: Float32Array): void {
  const nx = xs.length;
  for (let r = a; r < b; r++) {
    for (let i = 0; i < nx; i++) dct8(plane, r * W + xs[i]!, 1, out, (r * nx + i) * 8, 1);
  }
}

/** The patch's 2-D DCT from its 8 row-transformed segments (at base, rows `stride` apart): blk[k * 8 + l]. */
function colTransform(h: Float32Array, base: number, stride: number, blk: Float64Array): void {
  for (let l = 0; l < 8; l++) dct8(h, base + l, stride, blk, l, 8);
}

/** Inverse column transform of blk, times w and the window, added to the row-transformed accumulator. */
function colInverseAdd(blk: Float64Array, tmp: Float64Array, acc: Float32Array, base: number, stride: number, w: number): void {
  for (let l = 0; l < 8; l++) idct8(blk, l, 8, tmp, l, 8);
  for (let v = 0; v < 8; v++) for (let l = 0; l < 8; l++) acc[base + v * stride + l]! += w * WINDOW[v]! * tmp[v * 8 + l]!;
}

/** Rows [a, b): inverse row transform of the accumulator over the summed weights, into `out`. */
function rowInverse(acc: Float32Array, wt: Float32Array, a: number, b: number, W: number, xs: Int32Array, out: Float32Array): void {
  const nx = xs.length;
  const sum = new Float64Array(W), wsum = new Float64Array(W), tmp8 = new Float64Array(8);
  for (let r = a; r < b; r++) {
    sum.fill(0); wsum.fill(0);
    for (let i = 0; i < nx; i++) {
      idct8(acc, (r * nx + i) * 8, 1, tmp8, 0, 1);
      const w = wt[r * nx + i]!;
      for (let u = 0; u < 8; u++) { sum[xs[i]! + u]! += WINDOW[u]! * tmp8[u]!; wsum[xs[i]! + u]! += w * WINDOW[u]!; }
    }
    for (let x = 0; x < W; x++) out[r * W + x] = sum[x]! / wsum[x]!;
  }
}
