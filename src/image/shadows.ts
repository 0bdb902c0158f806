/**
 * Deep shadows of lossily coded photos. A phone's darkest shots hold their shadows at 0-3 levels,
 * and a lossy codec stores such a region as blocks whose means were rounded to one of those few
 * levels: a mosaic of 8x8 tiles at 0, 1 and 2. The curves lift a dark photo's level 1 to 20-30, so
 * the mosaic becomes the visible blocks of the darkest night shots. Below a few levels there is no
 * detail to keep (what the file holds there is quantisation and noise), so where the source's local
 * level is that low the output takes a wide low-pass of itself: shadows that look like shadows.
 *
 * Levels are read before the curves: each cell of `cell` px has the highest luma of its pixels (a
 * mosaic of 0-2 tiles peaks at 2 or 3, where a dim painting or a face at the same mean has pixels
 * above the threshold and keeps them), and stands for the highest among its 3x3 neighbours, so a
 * light, an edge or any detail above the threshold keeps its surroundings too. The low-pass is the curved output reduced by the same cell and
 * box-blurred `passes` times (about 3 cells either way). Each cell's weight is full under `from`
 * levels and none from `to` on (a smoothstep between), scaled by the denoise amount; low-pass and
 * weight are interpolated between cell centres.
 *
 * Lossless sources (LOL's PNGs) keep their shadows: their low levels are the photo's own.
 */
import { taps } from "./denoise.ts";
import type { LumaGrid } from "./gain.ts";
import { lumaFixed } from "./luma.ts";
import type { RgbaImage } from "../shared/image.ts";

export interface ShadowSettings {
  /** Side of a level cell, in output pixels (a JPEG block). */
  cell: number;
  /** Local level (0..255 luma) under which the low-pass takes over fully... */
  from: number;
  /** ...and from which nothing changes. */
  to: number;
  /** 3x3 box passes over the reduced output: the low-pass's width, in cells. */
  passes: number;
}

export const SHADOW_DEFAULTS: ShadowSettings = { cell: 8, from: 2, to: 8, passes: 3 };

/** Per-cell level of the source before the curves: the highest pixel luma among each cell's 3x3 neighbours. */
export interface ShadowLevels {
  cols: number;
  rows: number;
  level: Float32Array;
}

/**
 * Whether a photo whose luma grid (gain.ts: regional means, cells of tens of pixels) is `before`
 * has deep shadows worth the pass: some cell's mean under half of `to`. A mosaic worth smoothing
 * holds whole regions that deep; where every region is above it the pass changed next to nothing
 * (a phone night photo with 9% of its cells under `to` and none under half of it: 7 bytes of 8 M).
 */
export function mayHaveDeepShadows(before: LumaGrid, s: ShadowSettings = SHADOW_DEFAULTS): boolean {
  return before.mean.some((m) => m < s.to / 2);
}

/** The size of the cell grid for an image of `width` x `height` (cells of about `s.cell` px). */
export function shadowGrid(width: number, height: number, s: ShadowSettings = SHADOW_DEFAULTS): { cols: number; rows: number } {
  return { cols: Math.max(1, Math.round(width / s.cell)), rows: Math.max(1, Math.round(height / s.cell)) };
}

/** Where each of `cells` cells over `size` positions starts, then `size`: cell i spans [floor(i * size / cells), floor((i + 1) * size / cells)). */
export function cellStarts(size: number, cells: number): Int32Array {
  const starts = new Int32Array(cells + 1);
  for (let i = 0; i <= cells; i++) starts[i] = Math.floor((i * size) / cells);
  return starts;
}

/** The cell each of `size` positions falls in (the cells of `cellStarts`). */
export function cellOf(size: number, cells: number): Int32Array {
  const starts = cellStarts(size, cells);
  const of = new Int32Array(size);
  for (let i = 0; i < cells; i++) of.fill(i, starts[i], starts[i + 1]);
  return of;
}

/** The highest luma (lumaFixed, 0..255) of each cell's pixels, cols x rows cells (shadowGrid). */
export interface CellPeaks {
  cols: number;
  rows: number;
  peak: Uint8Array;
}

// Twin on purpose: assembly/pixels.ts ports this (served path) with the same integers.
export function cellPeaks(img: RgbaImage, cols: number, rows: number): CellPeaks {
  const { width: W, height: H, data } = img;
  const cx = cellOf(W, cols), cy = cellOf(H, rows);
  const peak = new Uint8Array(cols * rows);
  for (let y = 0, p = 0; y < H; y++) {
    const o = cy[y]! * cols;
    for (let x = 0; x < W; x++, p += 4) {
      const l = lumaFixed(data[p]!, data[p + 1]!, data[p + 2]!);
      const k = o + cx[x]!;
      if (l > peak[k]!) peak[k] = l;
    }
  }
  return { cols, rows, peak };
}

/** Levels from the source's cell peaks (before the curves); undefined when no cell is under `s.to`, so nothing would change. */
export function shadowLevels(peaks: CellPeaks, s: ShadowSettings = SHADOW_DEFAULTS): ShadowLevels | undefined {
  const { cols: w, rows: h, peak } = peaks;
  // The highest over each row's 3 neighbours, then over each column's 3.
  const across = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      let m = peak[o + x]!;
      if (x > 0 && peak[o + x - 1]! > m) m = peak[o + x - 1]!;
      if (x < w - 1 && peak[o + x + 1]! > m) m = peak[o + x + 1]!;
      across[o + x] = m;
    }
  }
  const level = new Float32Array(w * h);
  let any = false;
  for (let y = 0; y < h; y++) {
    for (let x = 0, o = y * w; x < w; x++) {
      let m = across[o + x]!;
      if (y > 0 && across[o - w + x]! > m) m = across[o - w + x]!;
      if (y < h - 1 && across[o + w + x]! > m) m = across[o + w + x]!;
      level[o + x] = m;
      if (m < s.to) any = true;
    }
  }
  return any ? { cols: w, rows: h, level } : undefined;
}

/**
 * What the blend moves each pixel towards: per cell ([rows][cols][4]) the low-pass's R, G, B and the
 * weight its level gives, interpolated bilinearly between cell centres, all four alike.
 */
export interface ShadowTarget {
  cols: number;
  rows: number;
  cells: Float32Array;
}

/**
 * Blend `img` (the curved, denoised output) towards its low-pass where `levels` says the source was
 * deep shadow. `reduced` is `img` reduced to the levels' grid; `amount` 0..1 scales the weight.
 * `run` is the blend itself (shadow-kernels.ts passes its WASM one, within a level of this one).
 */
export function smoothDeepShadows(
  img: RgbaImage,
  levels: ShadowLevels,
  reduced: RgbaImage,
  amount: number,
  s: ShadowSettings = SHADOW_DEFAULTS,
  run: (img: RgbaImage, target: ShadowTarget) => void = blend,
): void {
  const { cols: w, rows: h, level } = levels;
  if (reduced.width !== w || reduced.height !== h) {
    throw new Error(`the reduced output is ${reduced.width}x${reduced.height}, the shadow levels ${w}x${h}`);
  }
  if (!(amount >= 0 && amount <= 1)) throw new Error(`the deep-shadow amount must be in 0..1, got ${amount}`);
  if (!(s.from < s.to)) throw new Error(`the deep-shadow levels must rise: from ${s.from}, to ${s.to}`);
  if (amount === 0) return;
  const cells = blurred(reduced, s.passes);
  const span = s.to - s.from;
  for (let i = 0; i < w * h; i++) {
    const t = Math.min(1, Math.max(0, (level[i]! - s.from) / span));
    cells[4 * i + 3] = amount * (1 - t * t * (3 - 2 * t));
  }
  run(img, { cols: w, rows: h, cells });
}

/** Per row of cells, whether any of its weights is above 0 (a row of pixels between two rows without is left alone). */
export function rowsWithWork(target: ShadowTarget): Uint8Array {
  const { cols: w, rows: h, cells } = target;
  const work = new Uint8Array(h);
  for (let j = 0; j < h; j++) for (let i = 0; i < w && !work[j]; i++) if (cells[4 * (j * w + i) + 3]! > 0) work[j] = 1;
  return work;
}

// Twin on purpose: assembly/pixels.ts ports this blend (served path); this is the tested f64 reference.
function blend(img: RgbaImage, target: ShadowTarget): void {
  const { width: W, height: H, data } = img;
  const { cols: w, rows: h, cells } = target;
  // Written through a clamped view: stores round and clamp to 0..255 themselves.
  const out = new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  const tx = taps(W, w, W / w);
  const ty = taps(H, h, H / h);
  const work = rowsWithWork(target);
  const row = new Float32Array(w * 4);
  for (let y = 0; y < H; y++) {
    const j0 = ty.lo[y]!, j1 = ty.hi[y]!, fy = ty.f[y]!;
    if (!work[j0] && !work[j1]) continue;
    const r0 = 4 * j0 * w, r1 = 4 * j1 * w;
    for (let k = 0; k < w * 4; k++) row[k] = cells[r0 + k]! + (cells[r1 + k]! - cells[r0 + k]!) * fy;
    blendRow(out, y * W * 4, W, tx, row);
  }
}

function blendRow(out: Uint8ClampedArray, q: number, W: number, tx: { lo: Int32Array; hi: Int32Array; f: Float32Array }, row: Float32Array): void {
  for (let x = 0; x < W; x++, q += 4) {
    const a = 4 * tx.lo[x]!, b = 4 * tx.hi[x]!, f = tx.f[x]!;
    const k = row[a + 3]! + (row[b + 3]! - row[a + 3]!) * f;
    if (k <= 0) continue;
    for (let c = 0; c < 3; c++) {
      const v = row[a + c]! + (row[b + c]! - row[a + c]!) * f;
      const p = out[q + c]!;
      out[q + c] = p + (v - p) * k;
    }
  }
}

/** RGB of `img` as floats ([h][w][4], the fourth 0), box-blurred `passes` times over 3x3 (separably; windows cut at the edges). */
function blurred(img: RgbaImage, passes: number): Float32Array {
  const { width: w, height: h, data } = img;
  const n = w * h * 4, rw = w * 4;
  let cur = new Float32Array(n);
  for (let i = 0; i < n; i++) cur[i] = (i & 3) === 3 ? 0 : data[i]!;
  let next = new Float32Array(n);
  for (let p = 0; p < passes; p++) {
    for (let y = 0; y < h; y++) boxRow(cur, next, y * rw, w);
    boxColumns(next, cur, w, h);
    // (the fourth lane stays 0 throughout)
  }
  return cur;
}

const THIRD = 1 / 3;

/** 3-tap box along one row of w pixels from o (four floats each; the window is cut at the ends). */
function boxRow(src: Float32Array, dst: Float32Array, o: number, w: number): void {
  const e = o + (w - 1) * 4;
  if (w === 1) {
    for (let q = o; q < o + 4; q++) dst[q] = src[q]!;
    return;
  }
  for (let c = 0; c < 4; c++) {
    dst[o + c] = (src[o + c]! + src[o + 4 + c]!) / 2;
    dst[e + c] = (src[e + c]! + src[e - 4 + c]!) / 2;
  }
  for (let q = o + 4; q < e; q++) dst[q] = (src[q - 4]! + src[q]! + src[q + 4]!) * THIRD;
}

/** 3-tap box down every column, row by row. */
function boxColumns(src: Float32Array, dst: Float32Array, w: number, h: number): void {
  const rw = w * 4, n = h * rw;
  if (h === 1) {
    dst.set(src);
    return;
  }
  for (let q = 0; q < rw; q++) dst[q] = (src[q]! + src[q + rw]!) / 2;
  for (let q = n - rw; q < n; q++) dst[q] = (src[q]! + src[q - rw]!) / 2;
  for (let q = rw; q < n - rw; q++) dst[q] = (src[q - rw]! + src[q]! + src[q + rw]!) * THIRD;
}
