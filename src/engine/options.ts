/** What a caller asks of the pipeline and what it gets back (the Worker, the CLIs and the tests). */
import type { DenoiseOption } from "../image/noise.ts";
import type { Fit, ImageFormat, RgbaImage } from "../shared/image.ts";

export interface PipelineLimits {
  /** Max width*height of any source, read from the header before decoding (422 above). */
  maxSourcePixels: number;
  /**
   * Max width*height a JPEG decodes into at its shrink-on-load scale (default: maxSourcePixels): a
   * large JPEG is admitted when the output it is asked for lets it decode small enough.
   */
  maxJpegDecodePixels?: number;
  /** The same for a HEIC, decoded tile by tile at its scale (default: maxSourcePixels). */
  maxHeicDecodePixels?: number;
  /** Lower limits for the formats whose decoders need more heap per pixel (default: maxSourcePixels). */
  maxPngSourcePixels?: number;
  maxAvifSourcePixels?: number;
  maxWebpSourcePixels?: number;
  maxGifSourcePixels?: number;
  /** Max width*height of the output: a larger explicit size is a 422, a photo asked for at its own size is scaled to it. */
  maxOutputPixels: number;
  /** Max output pixels for mode=full (curves estimated at full resolution; 422 above). */
  maxFullModePixels: number;
  /**
   * Max output pixels encoded as AVIF (default: maxOutputPixels): above it an explicit format=avif is
   * a 422 and format=auto falls back to WebP.
   */
  maxAvifPixels?: number;
}

/** What to encode: a format, or "source" (a JPEG/PNG source's own format; else PNG when the image has alpha, JPEG otherwise). */
export type OutputFormat = ImageFormat | "source";

export interface PipelineOptions {
  width?: number;
  height?: number;
  fit: Fit;
  format: OutputFormat;
  /** format=auto: AVIF above limits.maxAvifPixels becomes WebP instead of a 422. */
  avifFallback?: boolean;
  /** Quality 1-100 for jpeg/webp/avif (default: the format's own, DEFAULT_QUALITY). */
  quality?: number;
  /**
   * 0 = no enhancement (model not run), 1 = full curves, up to 2 = past them towards the strongest
   * brightening curve (`strengthAffine`), "auto" = adapt to darkness (image/auto-strength.ts).
   */
  strength: number | "auto";
  /**
   * Smoothing of the noise the curves lift (image/denoise.ts): 0 = off, 0..1 = assumed noise level,
   * "auto" (default) = from the measured noise, "strong" = as auto with the DCT denoiser
   * (image/dct-denoise.ts: cleaner, several times the cost). Regions not brightened are never touched.
   */
  denoise?: DenoiseOption;
  /** strength=auto's ceiling on the content's brightness (default AUTO_MAX_MEAN); 1 turns the cap off. */
  autoMaxMean?: number;
  /** strength=auto's floor (default AUTO_MIN_MEAN), reached by going past the model's curves... */
  autoMinMean?: number;
  /** ...up to this strength (default AUTO_MAX_LIFT); 1 turns the lift off. */
  autoMaxLift?: number;
  mode: "fast" | "full";
  /** Apply EXIF orientation (JPEG). */
  orient: boolean;
  limits: PipelineLimits;
  /** Called after each timed step with the current image (memory measurements, scripts/memory.ts). */
  probe?: (stage: string, img: RgbaImage) => void;
}

export interface PipelineResult {
  /** Backed by a plain ArrayBuffer, so it can go straight into a Response. */
  bytes: Uint8Array<ArrayBuffer>;
  format: ImageFormat;
  width: number;
  height: number;
  /** The strength actually applied (resolved when "auto"). */
  strength: number;
  /** The photo's own (upright) size when it was scaled down to fit the output limit, no size having been asked for. */
  scaledFrom?: { width: number; height: number };
  /**
   * Milliseconds per stage (decode, resize, orient, estimate, model, denoise, curves, encode).
   * Meaningful in Node and local workerd; deployed Workers freeze the clock during CPU work.
   */
  timings: Record<string, number>;
}
