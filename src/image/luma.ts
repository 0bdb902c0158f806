/**
 * Rec. 709 luma, the one brightness every part of the service reads (exposure, gain, noise, the
 * guided filter's guide). Two forms: floating point on RGB in any unit, and the 8-bit fixed-point
 * form (weights 54/183/19 of 256) that the WASM kernels (assembly/pixels.ts) compute, so the JS
 * references give their exact numbers.
 */
import type { RgbaImage } from "../shared/image.ts";

/** Rec. 709 luma of R, G, B (any unit: 0-1 or 0-255). */
export function luma709(r: number, g: number, b: number): number {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Rec. 709 luma of 8-bit RGB as an integer 0..255, in the kernels' fixed point. */
export function lumaFixed(r: number, g: number, b: number): number {
  return (54 * r + 183 * g + 19 * b + 128) >> 8;
}

/** Rec. 709 luma of every pixel, 0-255 (rounded). */
export function lumaBytes(img: RgbaImage): Uint8Array {
  const d = img.data;
  const out = new Uint8Array(d.length / 4);
  for (let i = 0, p = 0; i < d.length; i += 4, p++) out[p] = Math.round(luma709(d[i]!, d[i + 1]!, d[i + 2]!));
  return out;
}
