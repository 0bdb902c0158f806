/**
 * How noisy an input is, measured before the curves lift it: the luminance noise std in 8-bit levels
 * (Immerkaer's estimate over cells, the flattest cells speaking), and what `denoise=auto` makes of it.
 */
import { lumaFixed } from "./luma.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Side of a noise-measurement cell in pixels. */
export const NOISE_CELL = 32;

/**
 * `denoise: "auto"`: the amount is the input's measured noise (std of luminance, 8-bit levels, see
 * `measureNoise`) over this level, at most 1. LOL's dark shots measure about 1 level; clean photos less.
 */
export const AUTO_FULL_NOISE = 1.5;

/**
 * `denoise: "auto"` on a lossily coded source never goes under this amount. The codec quantised away
 * the pixel-level differences the measurement reads (a phone night JPEG measures 0.01-0.18 of the full
 * amount), while what it kept, lifted, is noise all the same: its blocks' quantisation and the
 * sensor noise in their means. On the phone-night set 0.35 scored best without costing the same
 * photos taken without noise (docs/quality.md).
 */
export const LOSSY_MIN_AMOUNT = 0.35;

/**
 * `denoise: "strong"` (the DCT denoiser, dct-denoise.ts) on a lossily coded source never goes under
 * this amount: it separates a block's quantisation from its content where the guided filter
 * could only blur both, so it is given the full amount (docs/quality.md).
 */
export const STRONG_LOSSY_MIN_AMOUNT = 1;

/** The `denoise` option: 0..1 (0 = off), "auto", or "strong" (as auto, with the DCT denoiser). */
export type DenoiseOption = number | "auto" | "strong";

/**
 * Amount for `option` given the input's measured noise: a number as given; "auto" (or absent) from
 * the noise, at least LOSSY_MIN_AMOUNT for a `lossy` source; "strong" the same, at least
 * STRONG_LOSSY_MIN_AMOUNT for a lossy source.
 */
export function denoiseAmount(option: DenoiseOption | undefined, noise: number, lossy = false): number {
  if (typeof option === "number") return option;
  // Too small to measure: assume the level "auto" was calibrated on.
  const n = Number.isFinite(noise) ? noise : AUTO_FULL_NOISE;
  const floor = !lossy ? 0 : option === "strong" ? STRONG_LOSSY_MIN_AMOUNT : LOSSY_MIN_AMOUNT;
  return Math.max(Math.min(1, n / AUTO_FULL_NOISE), floor);
}

/** `measureNoise` looks at every k-th cell row and column, k as large as keeps at least this many cells. */
export const NOISE_MIN_CELLS = 200;

/**
 * Noise std of the luminance of `img` in 8-bit levels, NaN where the image is too small to tell: the
 * 10th percentile over `cell`-pixel cells of Immerkaer's estimate (mean |3x3 Laplacian| * sqrt(pi/2) / 6,
 * on every other row), so the flattest cells speak, not textured ones. Cells darker than 4 levels are
 * left out (clipped at 0). Large images are sampled: every k-th cell in each direction, at least
 * NOISE_MIN_CELLS cells (a percentile over an even sample estimates the same percentile), so the
 * cost stays near that of a 0.2 MP image.
 */
// Twin on purpose: measureNoiseWasm (pixels.ts, assembly/pixels.ts) is the served path; this is
// the tested reference that gives the same number.
export function measureNoise(img: RgbaImage, cell: number = NOISE_CELL): number {
  const { width: W, height: H, data: d } = img;
  const cols = Math.max(1, Math.ceil(W / cell));
  const rows = Math.max(1, Math.ceil(H / cell));
  const k = noiseStride(cols, rows);
  const sigmas: number[] = [];
  // Luminance of one band: a cell row plus the row below it (the last centre row's neighbour).
  const band = new Int32Array((cell + 1) * W);
  const lap = new Float64Array(cols);
  const lapCount = new Float64Array(cols);
  const sum = new Float64Array(cols);
  for (let j = 0; j < rows; j += k) {
    const y0 = j * cell;
    const y1 = Math.min(H, y0 + cell);
    const yEnd = Math.min(H, y1 + 1);
    for (let y = y0; y < yEnd; y++) {
      for (let i = 0; i < cols; i += k) {
        const x0 = i * cell, x1 = Math.min(W, x0 + cell + 1);
        const b = (y - y0) * W;
        for (let x = Math.max(0, x0 - 1), p = 4 * (y * W + x); x < x1; x++, p += 4) band[b + x] = lumaFixed(d[p]!, d[p + 1]!, d[p + 2]!);
      }
    }
    lap.fill(0);
    lapCount.fill(0);
    sum.fill(0);
    for (let y = y0; y < y1; y++) {
      const b = (y - y0) * W;
      for (let i = 0; i < cols; i += k) {
        const x0 = i * cell, x1 = Math.min(W, x0 + cell);
        let s = 0;
        for (let x = x0; x < x1; x++) s += band[b + x]!;
        sum[i]! += s;
        // Centre rows are the odd ones with a row on each side.
        if ((y & 1) === 0 || y + 1 >= H || W < 3) continue;
        const a = b - W, c = b + W;
        // Row y - 1 of the band: a cell row starting at an odd y reads the row above it, outside the band.
        if (y === y0) continue;
        let l1 = 0, n = 0;
        for (let x = Math.max(1, x0); x < Math.min(W - 1, x1); x++, n++) {
          const l = band[a + x - 1]! - 2 * band[a + x]! + band[a + x + 1]!
            - 2 * (band[b + x - 1]! - 2 * band[b + x]! + band[b + x + 1]!)
            + band[c + x - 1]! - 2 * band[c + x]! + band[c + x + 1]!;
          l1 += l < 0 ? -l : l;
        }
        lap[i]! += l1;
        lapCount[i]! += n;
      }
    }
    const ch = y1 - y0;
    for (let i = 0; i < cols; i += k) {
      addCellSigma(sigmas, lap[i]!, lapCount[i]!, sum[i]! / (ch * Math.min(cell, W - i * cell)));
    }
  }
  return noiseReading(sigmas);
}

/** `measureNoise` reads every k-th cell row and column: k as large as keeps NOISE_MIN_CELLS cells. */
export function noiseStride(cols: number, rows: number): number {
  return Math.max(1, Math.floor(Math.sqrt((cols * rows) / NOISE_MIN_CELLS)));
}

/**
 * One cell's Immerkaer estimate from its |Laplacian| sum and count and its mean luminance, added to
 * `sigmas` unless the cell has too few samples or is darker than 4 levels (clipped at 0).
 */
export function addCellSigma(sigmas: number[], lap: number, lapCount: number, mean: number): void {
  if (lapCount >= 32 && mean >= 4) sigmas.push((Math.sqrt(Math.PI / 2) / 6) * (lap / lapCount));
}

/** The noise reading from the cells' estimates: their 10th percentile, NaN when there are none. */
export function noiseReading(sigmas: number[]): number {
  sigmas.sort((p, q) => p - q);
  return sigmas.length ? sigmas[Math.floor(sigmas.length / 10)]! : NaN;
}
