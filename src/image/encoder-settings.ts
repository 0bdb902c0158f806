/**
 * The encoders' settings, chosen for latency at the edge (the encode is most of a request's CPU), and
 * each lossy format's default quality. image/codecs.ts applies them over jSquash's defaults.
 */
import type { ImageFormat } from "../shared/image.ts";

/**
 * JPEG options chosen for latency: jSquash's defaults spend most of their time on progressive scans,
 * so sequential with 4:2:0 chroma (less than half the time, the same PSNR within a few tenths of a dB,
 * docs/performance.md). Huffman optimisation stays on: turning it off made mozjpeg slower (its
 * trellis quantisation, which jSquash cannot switch off, then runs without the optimised tables).
 */
export const FAST_JPEG = {
  baseline: false,
  progressive: false,
  optimize_coding: true,
  trellis_multipass: false,
  trellis_opt_zero: false,
  trellis_opt_table: false,
  trellis_loops: 1,
  auto_subsample: false,
  chroma_subsample: 2,
} as const;

/**
 * WebP: method 2 of 0-6 (libwebp's effort; 4 is its default): method 4 was much slower than the JPEG
 * path for only a few percent fewer bytes at the same SSIM (npm run bench).
 */
export const FAST_WEBP = { method: 2 } as const;

/**
 * AVIF: libaom speed 10 of 0-10, the fastest: at the edge the encode is most of the request's CPU, and
 * the default speed is several times slower.
 */
export const FAST_AVIF = { speed: 10 } as const;

/**
 * Default quality per lossy format, matched to JPEG q85 by the SSIM of each output against the lossless
 * one on enhanced night photos: WebP q86 matches it with fewer bytes, AVIF q80 comes close with fewer
 * bytes. npm run bench prints the served figures (docs/performance.md, "Output formats").
 */
export const DEFAULT_QUALITY = { jpeg: 85, webp: 86, avif: 80 } as const satisfies Record<Exclude<ImageFormat, "png">, number>;
