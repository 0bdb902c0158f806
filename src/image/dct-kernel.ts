/**
 * The strong denoiser's kernel in the pixel module (assembly/pixels.ts): `dctDenoiseWasm` runs
 * dct-denoise.ts's algorithm in f32 SIMD, within a level of `dctDenoise` on a small share of bytes
 * (test/image/dct-denoise.test.ts). The image goes through in bands of output rows with MARGIN
 * rows of context on each side; a band's source rows above its first output row were overwritten
 * by the band before, so their source is kept aside.
 */
import { HARD_K, MARGIN, PATCH } from "./dct-denoise.ts";
import type { EpsGrid } from "./denoise.ts";
import { instance } from "./pixels.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Bytes of band state per image pixel of a band row: RGBA, 3 planes and a pilot, 3 segment buffers, weights. */
const BYTES_PER_PIXEL = 4 + 16 + 3 * 16 + 2;
/** A band's state stays under about this many bytes (at least 16 output rows a band). */
export const DCT_BAND_BYTES = 6 * 1024 * 1024;

/** Output rows per band for an image `width` pixels wide. */
export function dctBandRows(width: number, bandBytes = DCT_BAND_BYTES): number {
  return Math.max(16, Math.floor(bandBytes / (BYTES_PER_PIXEL * width)) - 2 * MARGIN);
}

export function dctDenoiseWasm(img: RgbaImage, grid: EpsGrid, options: { bandBytes?: number } = {}): void {
  const { width: W, height: H, data } = img;
  if (W < PATCH || H < PATCH) return;
  if (grid.eps.length !== grid.cols * grid.rows) throw new Error(`eps grid holds ${grid.eps.length} values, expected ${grid.cols}x${grid.rows}`);
  const B = dctBandRows(W, options.bandBytes);
  const rows = Math.min(H, B + 2 * MARGIN);
  const rowBytes = W * 4;
  const e = instance();
  const band = e.dctInit(W, H, rows, grid.cols, grid.rows, grid.stepX, grid.stepY, HARD_K);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Float32Array(buf, e.dctEps(), grid.eps.length).set(grid.eps);
  const mem = new Uint8Array(buf, band, rows * rowBytes);
  const kept = new Uint8Array(MARGIN * rowBytes);
  for (let ya = 0; ya < H; ya += B) {
    const yb = Math.min(H, ya + B);
    const r0 = Math.max(0, ya - MARGIN), r1 = Math.min(H, yb + MARGIN);
    // Rows [r0, ya) from the source kept aside, [ya, r1) from the image.
    mem.set(kept.subarray((r0 - (ya - MARGIN)) * rowBytes), 0);
    mem.set(data.subarray(ya * rowBytes, r1 * rowBytes), (ya - r0) * rowBytes);
    if (yb < H) kept.set(data.subarray((yb - MARGIN) * rowBytes, yb * rowBytes));
    e.dctRun(ya, yb, r0, r1);
    data.set(mem.subarray((ya - r0) * rowBytes, (yb - r0) * rowBytes), ya * rowBytes);
  }
}
