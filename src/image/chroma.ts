/**
 * Colour-noise smoothing after the curves, for sources whose colour was coded lossily (JPEG, lossy
 * WebP, AVIF). Such codecs keep colour at half resolution in blocks (16 px in a 4:2:0 JPEG) and
 * quantise away its pixel-level noise; what is left is the blocks' means, which carry the sensor's
 * colour noise as patches a block wide. Lifted with the light, these are the yellow and purple
 * blotches of a night photo. The luma filter (denoise.ts) works at a few pixels and cannot reach them.
 *
 * Filter: per chroma channel C (Cb, Cr of BT.601, as JPEG codes them), a self-guided filter (He et
 * al.) on a copy reduced `factor` times (4: a copy pixel is a 4x4 block, the window 9x9 of them,
 * 36 px, two chroma blocks and more): A = var(C) / (var(C) + eps), B = (1 - A) mean(C), and the
 * output is mean(A) * C + mean(B), with A and B bilinearly upsampled. Flat colour regions take their
 * window's mean colour; colour edges, where the variance is far above eps, keep their pixels.
 * Luminance is not touched (Y is kept and only Cb, Cr replaced), so sharpness stays the luma
 * filter's business.
 *
 * eps follows the gain, as in denoise.ts: eps = (amount * noise * (gain - 1))^2 per gain cell,
 * capped, zero where the curves did not brighten; eps 0 leaves the pixel exactly as it is.
 *
 * Lossless sources are left alone: their colour noise is per pixel, and the luma-guided filter
 * already takes it (on LOL the served chroma noise is below the references' own). Measured on LOL,
 * this pass on top only removed colour texture the references have.
 *
 * Memory: planes at 1/factor^2 of the image (about 3 bytes per image pixel at factor 4). The
 * factor grows for images over about 4 MP so the copy stays under COPY_MAX_PIXELS.
 */
import { cellEps, taps } from "./denoise.ts";
import type { Gain } from "./gain.ts";
import type { RgbaImage } from "../shared/image.ts";

export interface ChromaSettings {
  /** How many times smaller (per side) the copy the statistics are taken on is. */
  factor: number;
  /** Window radius in copy pixels. */
  radius: number;
  /** Chroma noise std (0..1 units) assumed per unit of extra gain, at amount 1. */
  noise: number;
  /** Upper bound of eps (0..1 units squared). */
  maxEps: number;
}

export const CHROMA_DEFAULTS: ChromaSettings = { factor: 4, radius: 4, noise: 0.015, maxEps: 0.01 };

/** The copy grows coarser than `factor` beyond this many pixels, bounding the planes' memory. */
export const COPY_MAX_PIXELS = 1 << 18;

/** BT.601 (JPEG) chroma of an RGB value. */
const cbOf = (r: number, g: number, b: number): number => -0.168736 * r - 0.331264 * g + 0.5 * b;
const crOf = (r: number, g: number, b: number): number => 0.5 * r - 0.418688 * g - 0.081312 * b;

/**
 * The filter itself on a w x h copy reduced f times, given eps per copy pixel: the copy's block
 * means, the window statistics, the output. `runChroma` below is the reference; colour-kernels.ts has the
 * WASM one (within a level).
 */
export type ChromaRun = (img: RgbaImage, f: number, w: number, h: number, eps: Float32Array, radius: number) => void;

/**
 * Smooth the chroma of `img` (the curves' output) in place where `gain` says it was brightened.
 * `amount` 0..1 scales the assumed noise (0 returns at once). Returns whether any pixel changed.
 */
export function smoothChroma(img: RgbaImage, gain: Gain, amount: number, s: ChromaSettings = CHROMA_DEFAULTS, run: ChromaRun = runChroma): boolean {
  const { width: W, height: H } = img;
  const { before, after } = gain;
  if (!(amount >= 0 && amount <= 1)) throw new Error(`chroma amount must be in 0..1, got ${amount}`);
  if (!Number.isInteger(s.radius) || s.radius < 1) throw new Error(`chroma radius must be a positive integer, got ${s.radius}`);
  if (amount === 0 || W * H === 0) return false;
  const eps = cellEps(before, after, amount, { noise: s.noise, maxEps: s.maxEps, radius: 1, cell: before.cell });
  if (eps.every((e) => e <= 1)) return false;
  const f = copyFactor(W, H, s.factor);
  const w = Math.ceil(W / f), h = Math.ceil(H / f);
  // eps per copy pixel, interpolated between gain cell centres (a cell is stepX x stepY image pixels).
  const stepX = (before.cell * W) / before.width, stepY = (before.cell * H) / before.height;
  run(img, f, w, h, bilinear(eps, before.cols, before.rows, w, h, stepX / f, stepY / f), s.radius);
  return true;
}

/** The reference ChromaRun. */
// Twin on purpose: the WASM one (colour-kernels.ts, assembly/pixels.ts) is the served path.
export function runChroma(img: RgbaImage, f: number, w: number, h: number, eps: Float32Array, radius: number): void {
  const { cb, cr } = chromaCopy(img, f, w, h);
  const [aB, bB] = coefficients(cb, eps, w, h, radius);
  const [aR, bR] = coefficients(cr, eps, w, h, radius);
  apply(img, f, w, h, [aB, bB, aR, bR]);
}

/** The copy's factor for a W x H image: `factor`, or coarser so the copy stays under COPY_MAX_PIXELS. */
export function copyFactor(W: number, H: number, factor: number): number {
  return Math.max(factor, Math.ceil(Math.sqrt((W * H) / COPY_MAX_PIXELS)));
}

/** Mean Cb and Cr over f x f blocks (partial at the right and bottom edges). */
function chromaCopy(img: RgbaImage, f: number, w: number, h: number): { cb: Float32Array; cr: Float32Array } {
  const { width: W, height: H, data: d } = img;
  const cb = new Float32Array(w * h), cr = new Float32Array(w * h);
  // Row sums of R, G and B per block column; chroma is linear, so it is taken of the block sums.
  const sums = new Float64Array(3 * w);
  for (let j = 0; j < h; j++) {
    sums.fill(0);
    const y1 = Math.min(H, (j + 1) * f);
    for (let y = j * f; y < y1; y++) blockRowSums(d, y * W * 4, W, f, sums);
    blockChroma(sums, j, W, H, f, w, cb, cr);
  }
  return { cb, cr };
}

/** Add one image row's R, G, B into per-block-column sums. */
function blockRowSums(d: Uint8Array, p: number, W: number, f: number, sums: Float64Array): void {
  for (let x0 = 0, k = 0; x0 < W; x0 += f, k += 3) {
    let r = 0, g = 0, b = 0;
    for (let x = x0, e = Math.min(W, x0 + f); x < e; x++, p += 4) {
      r += d[p]!;
      g += d[p + 1]!;
      b += d[p + 2]!;
    }
    sums[k]! += r;
    sums[k + 1]! += g;
    sums[k + 2]! += b;
  }
}

/** Block means of block sums (R, G, B per block column of one block row) as Cb and Cr, into row j. */
function blockChroma(sums: Float64Array, j: number, W: number, H: number, f: number, w: number, cb: Float32Array, cr: Float32Array): void {
  const bh = Math.min(H, (j + 1) * f) - j * f;
  for (let i = 0; i < w; i++) {
    const n = 1 / (bh * Math.min(f, W - i * f));
    const r = sums[3 * i]!, g = sums[3 * i + 1]!, b = sums[3 * i + 2]!;
    cb[j * w + i] = cbOf(r, g, b) * n;
    cr[j * w + i] = crOf(r, g, b) * n;
  }
}

/** Values on a cols x rows grid with centres step apart, interpolated onto a w x h grid of unit pixels. */
function bilinear(src: Float32Array, cols: number, rows: number, w: number, h: number, stepX: number, stepY: number): Float32Array {
  const out = new Float32Array(w * h);
  const tx = taps(w, cols, stepX);
  for (let y = 0; y < h; y++) {
    const v = Math.min(Math.max((y + 0.5) / stepY - 0.5, 0), rows - 1);
    const j0 = Math.floor(v), j1 = Math.min(j0 + 1, rows - 1), fv = v - j0;
    for (let x = 0; x < w; x++) {
      const i0 = tx.lo[x]!, i1 = tx.hi[x]!, fu = tx.f[x]!;
      const top = src[j0 * cols + i0]! + (src[j0 * cols + i1]! - src[j0 * cols + i0]!) * fu;
      const bottom = src[j1 * cols + i0]! + (src[j1 * cols + i1]! - src[j1 * cols + i0]!) * fu;
      out[y * w + x] = top + (bottom - top) * fv;
    }
  }
  return out;
}

/** 1 / the number of positions a (2r+1) window around each of n positions covers (windows shrink at the edges). */
function inverseCounts(n: number, r: number): Float32Array {
  const inv = new Float32Array(n);
  for (let i = 0; i < n; i++) inv[i] = 1 / (Math.min(n - 1, i + r) - Math.max(0, i - r) + 1);
  return inv;
}

/**
 * Window means over (2r+1)^2 of two planes at once, into `outP` and `outQ` (which may be `p` and
 * `q`): running sums along rows into the temporaries, then along columns.
 */
function boxMeans(
  p: Float32Array, q: Float32Array, outP: Float32Array, outQ: Float32Array, tp: Float32Array, tq: Float32Array,
  w: number, h: number, r: number, invW: Float32Array, invH: Float32Array,
): void {
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let sp = 0, sq = 0;
    for (let x = 0; x < r && x < w; x++) {
      sp += p[o + x]!;
      sq += q[o + x]!;
    }
    for (let x = 0; x < w; x++) {
      if (x + r < w) {
        sp += p[o + x + r]!;
        sq += q[o + x + r]!;
      }
      tp[o + x] = sp * invW[x]!;
      tq[o + x] = sq * invW[x]!;
      if (x - r >= 0) {
        sp -= p[o + x - r]!;
        sq -= q[o + x - r]!;
      }
    }
  }
  // Column sums for all columns at once, row by row (memory order).
  const cp = new Float64Array(w), cq = new Float64Array(w);
  for (let y = 0; y < r && y < h; y++) {
    for (let x = 0; x < w; x++) {
      cp[x]! += tp[y * w + x]!;
      cq[x]! += tq[y * w + x]!;
    }
  }
  for (let y = 0; y < h; y++) {
    const add = y + r < h ? (y + r) * w : -1, drop = y - r >= 0 ? (y - r) * w : -1, o = y * w, k = invH[y]!;
    for (let x = 0; x < w; x++) {
      if (add >= 0) {
        cp[x]! += tp[add + x]!;
        cq[x]! += tq[add + x]!;
      }
      outP[o + x] = cp[x]! * k;
      outQ[o + x] = cq[x]! * k;
      if (drop >= 0) {
        cp[x]! -= tp[drop + x]!;
        cq[x]! -= tq[drop + x]!;
      }
    }
  }
}

/** The window means of A and B for one channel: eps 0 gives A 1, B 0 (the identity). `c` is reused. */
function coefficients(c: Float32Array, eps: Float32Array, w: number, h: number, r: number): [Float32Array, Float32Array] {
  const n = w * h;
  const invW = inverseCounts(w, r), invH = inverseCounts(h, r);
  const sq = new Float32Array(n), tp = new Float32Array(n), tq = new Float32Array(n);
  for (let i = 0; i < n; i++) sq[i] = c[i]! * c[i]!;
  const mean = new Float32Array(n);
  boxMeans(c, sq, mean, sq, tp, tq, w, h, r, invW, invH);
  // A into sq, B into c (both read only at index i).
  for (let i = 0; i < n; i++) {
    const e = eps[i]!;
    const m = mean[i]!;
    const v = Math.max(0, sq[i]! - m * m);
    const k = e > 0 ? v / (v + e) : 1;
    sq[i] = k;
    c[i] = (1 - k) * m;
  }
  boxMeans(sq, c, sq, c, tp, tq, w, h, r, invW, invH);
  return [sq, c];
}

/** Each pixel's Cb and Cr through the upsampled coefficients, Y kept; untouched where A is 1 and B 0. */
function apply(img: RgbaImage, f: number, w: number, h: number, [aB, bB, aR, bR]: readonly [Float32Array, Float32Array, Float32Array, Float32Array]): void {
  const { width: W, height: H, data: d } = img;
  // Written through a clamped view: stores round and clamp to 0..255 themselves.
  const out = new Uint8ClampedArray(d.buffer, d.byteOffset, d.length);
  const tx = taps(W, w, f);
  // Copy pixels whose coefficients are the identity for both channels (exact: eps 0 across the window).
  const same = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) same[i] = aB[i] === 1 && aR[i] === 1 && bB[i] === 0 && bR[i] === 0 ? 1 : 0;
  // One copy row of the four coefficients, interpolated vertically for the image row at hand.
  const row = new Float32Array(4 * w);
  const skip = new Uint8Array(w);
  for (let y = 0; y < H; y++) {
    const v = Math.min(Math.max((y + 0.5) / f - 0.5, 0), h - 1);
    const j0 = Math.floor(v), j1 = Math.min(j0 + 1, h - 1);
    verticalRow(row, skip, same, aB, bB, aR, bR, j0 * w, j1 * w, v - j0, w);
    applyRow(d, out, y * W * 4, W, row, skip, tx.lo, tx.hi, tx.f);
  }
}

function verticalRow(
  row: Float32Array, skip: Uint8Array, same: Uint8Array, aB: Float32Array, bB: Float32Array, aR: Float32Array, bR: Float32Array,
  o0: number, o1: number, fv: number, w: number,
): void {
  for (let i = 0; i < w; i++) {
    const k0 = o0 + i, k1 = o1 + i, q = 4 * i;
    skip[i] = same[k0]! & same[k1]!;
    row[q] = aB[k0]! + (aB[k1]! - aB[k0]!) * fv;
    row[q + 1] = bB[k0]! + (bB[k1]! - bB[k0]!) * fv;
    row[q + 2] = aR[k0]! + (aR[k1]! - aR[k0]!) * fv;
    row[q + 3] = bR[k0]! + (bR[k1]! - bR[k0]!) * fv;
  }
}

function applyRow(d: Uint8Array, out: Uint8ClampedArray, p: number, W: number, row: Float32Array, skip: Uint8Array, lo: Int32Array, hi: Int32Array, fx: Float32Array): void {
  for (let x = 0; x < W; x++, p += 4) {
    const i0 = lo[x]!, i1 = hi[x]!;
    if (skip[i0]! & skip[i1]!) continue;
    const fu = fx[x]!, q0 = 4 * i0, q1 = 4 * i1;
    const ab = row[q0]! + (row[q1]! - row[q0]!) * fu;
    const bb = row[q0 + 1]! + (row[q1 + 1]! - row[q0 + 1]!) * fu;
    const ar = row[q0 + 2]! + (row[q1 + 2]! - row[q0 + 2]!) * fu;
    const br = row[q0 + 3]! + (row[q1 + 3]! - row[q0 + 3]!) * fu;
    const r = d[p]!, g = d[p + 1]!, b = d[p + 2]!;
    const yy = 0.299 * r + 0.587 * g + 0.114 * b;
    const cb = ab * cbOf(r, g, b) + bb;
    const cr = ar * crOf(r, g, b) + br;
    out[p] = yy + 1.402 * cr;
    out[p + 1] = yy - 0.344136 * cb - 0.714136 * cr;
    out[p + 2] = yy + 1.772 * cb;
  }
}
