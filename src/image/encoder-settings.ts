/**
 * The encoders' settings, chosen for latency at the edge (the encode is most of a request's CPU), and
 * each lossy format's default quality. image/codecs.ts applies them (over jSquash's defaults for WebP
 * and AVIF).
 */
import type { ImageFormat } from "../shared/image.ts";

/**
 * JPEG quality: the service's `q` keeps mozjpeg's scale (what it encoded with before libjpeg-turbo).
 * libjpeg-turbo, with mozjpeg's quantisation tables but without its trellis quantisation, matches
 * mozjpeg's SSIM at a slightly lower setting; these points are the lowest libjpeg-turbo quality whose
 * mean SSIM on eight photos (night photos enhanced, well-exposed ones) was at least mozjpeg's at q,
 * with 4.7-10.4% more bytes in half the time (docs/performance.md). Between points: linear.
 */
export const JPEG_QUALITY_MAP: readonly (readonly [mozjpeg: number, turbo: number])[] = [
  [1, 1], [30, 27], [50, 44], [60, 58], [70, 68], [75, 72], [80, 79], [85, 84], [90, 90], [100, 100],
];

/** libjpeg-turbo's quality for the service's JPEG `q` (1-100). */
export function jpegTurboQuality(q: number): number {
  for (let i = 1; i < JPEG_QUALITY_MAP.length; i++) {
    const [q1, t1] = JPEG_QUALITY_MAP[i]!;
    if (q > q1) continue;
    const [q0, t0] = JPEG_QUALITY_MAP[i - 1]!;
    return Math.round(t0 + ((t1 - t0) * (q - q0)) / (q1 - q0));
  }
  return 100;
}

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
