/**
 * The strong denoiser's kernel in the pixel module (assembly/pixels.ts): `dctDenoiseWasm` runs
 * dct-denoise.ts's algorithm in f32 SIMD, within a level of `dctDenoise` on a small share of bytes
 * (test/image/dct-denoise.test.ts). The image goes through in bands of output rows, with 7 rows of
 * context above (pass 2's patches) and MARGIN below (pass 1's, under pass 2's pilot rows); the
 * pilot's rows around a band's end stay in the kernel for the next band, so its pass 1 starts at its
 * own first row. A band's source rows above its first output row were overwritten by the band
 * before, so their source is kept aside.
 */
import { HARD_K, MARGIN, PATCH } from "./dct-denoise.ts";
import type { EpsGrid } from "./denoise.ts";
import { instance } from "./pixels.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Bytes of band state per image pixel of a band row: RGBA, 3 planes and a pilot, 3 segment buffers, weights. */
const BYTES_PER_PIXEL = 4 + 16 + 3 * 16 + 2;
/** Rows of context above a band's output rows. */
const ABOVE = PATCH - 1;
/** A band's state stays under about this many bytes (at least 16 output rows a band). */
export const DCT_BAND_BYTES = 6 * 1024 * 1024;

/** Output rows per band for an image `width` pixels wide. */
export function dctBandRows(width: number, bandBytes = DCT_BAND_BYTES): number {
  // The pilot rows carried to the next band (three planes of MARGIN f32 rows) come out of the same bytes.
  return Math.max(16, Math.floor((bandBytes - 12 * MARGIN * width) / (BYTES_PER_PIXEL * width)) - ABOVE - MARGIN);
}

export function dctDenoiseWasm(img: RgbaImage, grid: EpsGrid, options: { bandBytes?: number } = {}): void {
  const { width: W, height: H, data } = img;
  if (W < PATCH || H < PATCH) return;
  if (grid.eps.length !== grid.cols * grid.rows) throw new Error(`eps grid holds ${grid.eps.length} values, expected ${grid.cols}x${grid.rows}`);
  const B = dctBandRows(W, options.bandBytes);
  const rows = Math.min(H, B + ABOVE + MARGIN);
  const rowBytes = W * 4;
  const e = instance();
  const band = e.dctInit(W, H, rows, grid.cols, grid.rows, grid.stepX, grid.stepY, HARD_K);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Float32Array(buf, e.dctEps(), grid.eps.length).set(grid.eps);
  const mem = new Uint8Array(buf, band, rows * rowBytes);
  const kept = new Uint8Array(ABOVE * rowBytes);
  for (let ya = 0; ya < H; ya += B) {
    const yb = Math.min(H, ya + B);
    const r0 = Math.max(0, ya - ABOVE), r1 = Math.min(H, yb + MARGIN);
    // Rows [r0, ya) from the source kept aside, [ya, r1) from the image.
    mem.set(kept.subarray((r0 - (ya - ABOVE)) * rowBytes), 0);
    mem.set(data.subarray(ya * rowBytes, r1 * rowBytes), (ya - r0) * rowBytes);
    if (yb < H) kept.set(data.subarray((yb - ABOVE) * rowBytes, yb * rowBytes));
    e.dctRun(ya, yb, r0, r1);
    data.set(mem.subarray((ya - r0) * rowBytes, (yb - r0) * rowBytes), ya * rowBytes);
  }
}
