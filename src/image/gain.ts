/**
 * How much each region was brightened: block means of luminance before and after the curves, one
 * gain per cell. Gain is a smooth, regional quantity, so the grids can be measured on the small
 * estimation copy and stand for the full-size image of the same shape.
 */
import { lumaFixed } from "./luma.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Side of a gain cell in output pixels. */
export const GAIN_CELL = 32;

/** Luminance block means: cells of `cell` x `cell` pixels (the last row/column of cells may be smaller). */
export interface LumaGrid {
  /** Size of the image the grid was measured on (it may stand for a larger image of the same shape). */
  width: number;
  height: number;
  cell: number;
  cols: number;
  rows: number;
  /** Mean luminance 0..255 per cell, row-major. */
  mean: Float32Array;
}

/** Block-mean luminance of `img` in cells of `cell` pixels. */
export function lumaGrid(img: RgbaImage, cell: number = GAIN_CELL): LumaGrid {
  const { width: W, height: H, data: d } = img;
  if (!Number.isInteger(cell) || cell < 1) throw new Error(`cell must be a positive integer, got ${cell}`);
  const cols = Math.max(1, Math.ceil(W / cell));
  const rows = Math.max(1, Math.ceil(H / cell));
  const sum = new Float64Array(cols * rows);
  for (let y = 0; y < H; y++) {
    const rb = ((y / cell) | 0) * cols;
    for (let i = 0, p = y * W * 4; i < cols; i++) {
      let s = 0;
      for (let x = i * cell, e = Math.min(W, x + cell); x < e; x++, p += 4) s += lumaFixed(d[p]!, d[p + 1]!, d[p + 2]!);
      sum[rb + i]! += s;
    }
  }
  const mean = new Float32Array(cols * rows);
  for (let j = 0; j < rows; j++) {
    const ch = Math.min(cell, H - j * cell);
    for (let i = 0; i < cols; i++) mean[j * cols + i] = sum[j * cols + i]! / (ch * Math.min(cell, W - i * cell));
  }
  return { width: W, height: H, cell, cols, rows, mean };
}

/** How much each region was brightened: luminance grids of the same image before and after the curves. */
export interface Gain {
  before: LumaGrid;
  after: LumaGrid;
}
