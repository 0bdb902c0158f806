/**
 * CONTRACT STUB (to be implemented by the image-pipeline work): the image pipeline, runtime-agnostic
 * (Worker and Node CLI run this same code).
 *   sniff -> header dimensions checked against the pixel budget before decoding -> decode -> orient ->
 *   resize to the output size -> downscale to estimation size -> model -> upsample curves and apply at
 *   output size -> encode.
 * Throws HttpError (415 unsupported, 422 undecodable / over pixel budget) for bad images.
 */
import type { ModelInfo } from "./model-info.ts";

export type ImageFormat = "png" | "jpeg";
export type Fit = "scale-down" | "contain" | "cover";

export interface PipelineLimits {
  /** Max width*height of the source, read from the header before decoding (422 above). */
  maxSourcePixels: number;
  /** Max width*height of the output (422 above). */
  maxOutputPixels: number;
  /** Max output pixels for mode=full (curves estimated at full resolution; 422 above). */
  maxFullModePixels: number;
}

export interface PipelineOptions {
  width?: number;
  height?: number;
  fit: Fit;
  format: ImageFormat;
  /** JPEG quality 1-100. */
  quality: number;
  /** 0 = no enhancement (model not run), 1 = full curves, "auto" = adapt to darkness. */
  strength: number | "auto";
  mode: "fast" | "full";
  /** Apply EXIF orientation (JPEG). */
  orient: boolean;
  limits: PipelineLimits;
}

export interface PipelineResult {
  bytes: Uint8Array;
  format: ImageFormat;
  width: number;
  height: number;
  /** The strength actually applied (resolved when "auto"). */
  strength: number;
}

export interface Engine {
  model: ModelInfo & { sha256: string };
  enhance(input: Uint8Array, opts: PipelineOptions): Promise<PipelineResult>;
}
