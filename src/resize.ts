/**
 * Resizing with @jsquash/resize's WASM resampler (Rust `resize` crate: filters widen with the scale
 * factor, so downscaling is properly antialiased). Shared by the pipeline (output size, estimation copy)
 * and the trainer's data loader, so training and serving see the same kind of input.
 *
 * We call the wasm-bindgen function directly instead of the package's default export: that one builds
 * an `ImageData`, which neither Node 20 nor workerd define.
 */
import initResizeWasm, { resize as wasmResize } from "@jsquash/resize/lib/resize/pkg/squoosh_resize.js";
import type { Fit } from "./pipeline.ts";
import { asBytes, type RgbaImage } from "./image.ts";

export type ResizeFilter = "triangle" | "catrom" | "mitchell" | "lanczos3";
const FILTER_INDEX: Record<ResizeFilter, number> = { triangle: 0, catrom: 1, mitchell: 2, lanczos3: 3 };

/** Filter for output-size resizes (thumbnails): sharp, little ringing. */
export const OUTPUT_FILTER: ResizeFilter = "lanczos3";
/** Filter for the small copy the curves are estimated on (and the trainer's inputs): smooth and cheap. */
export const ESTIMATION_FILTER: ResizeFilter = "triangle";

let ready: Promise<unknown> | undefined;

/** Initialise the resampler once per isolate/process from a precompiled module (or bytes in Node). */
export function initResize(wasm: WebAssembly.Module | BufferSource): Promise<unknown> {
  ready ??= initResizeWasm(wasm);
  return ready;
}

function assertReady(): void {
  if (!ready) throw new Error("resize used before initResize()/initCodecs()");
}

/**
 * Resample `img` to exactly width x height. Returns `img` itself when the size is unchanged (so a
 * no-op resize leaves pixels untouched). Premultiplication and linear-light conversion are off: the
 * model was trained on sRGB values resized this way, and they cost time.
 */
export async function resizeImage(
  img: RgbaImage,
  width: number,
  height: number,
  filter: ResizeFilter = OUTPUT_FILTER,
): Promise<RgbaImage> {
  assertReady();
  await ready;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize target must be positive integers, got ${width}x${height}`);
  }
  if (width === img.width && height === img.height) return img;
  const out = wasmResize(img.data, img.width, img.height, width, height, FILTER_INDEX[filter], false, false);
  return { width, height, data: asBytes(out) };
}

/** Copy out a rectangle (used by `cover` to crop the centre before resizing). */
export function cropImage(img: RgbaImage, x: number, y: number, w: number, h: number): RgbaImage {
  if (x === 0 && y === 0 && w === img.width && h === img.height) return img;
  if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > img.width || y + h > img.height) {
    throw new Error(`crop ${w}x${h}+${x}+${y} is outside the ${img.width}x${img.height} image`);
  }
  const data = new Uint8Array(w * h * 4);
  for (let row = 0; row < h; row++) {
    const src = ((y + row) * img.width + x) * 4;
    data.set(img.data.subarray(src, src + w * 4), row * w * 4);
  }
  return { width: w, height: h, data };
}

export interface FitResult {
  /** Output size. */
  width: number;
  height: number;
  /** Source rectangle to resize into the output (the whole source except for `cover`). */
  crop: { x: number; y: number; width: number; height: number };
}

const clampDim = (n: number): number => Math.max(1, Math.round(n));

/**
 * Output size for a source of srcW x srcH given optional target width/height and fit:
 * - no width/height: the source size;
 * - one of them: keep the aspect ratio (`scale-down` never enlarges);
 * - `scale-down`: fit inside width x height, never enlarging;
 * - `contain`: fit inside width x height keeping the aspect ratio (may enlarge);
 * - `cover`: fill width x height exactly, cropping the centre of the source (may enlarge).
 */
export function fitSize(srcW: number, srcH: number, width: number | undefined, height: number | undefined, fit: Fit): FitResult {
  const whole = { x: 0, y: 0, width: srcW, height: srcH };
  if (width === undefined && height === undefined) return { width: srcW, height: srcH, crop: whole };
  if (width === undefined || height === undefined) {
    let scale = width !== undefined ? width / srcW : height! / srcH;
    if (fit === "scale-down") scale = Math.min(1, scale);
    return { width: clampDim(srcW * scale), height: clampDim(srcH * scale), crop: whole };
  }
  if (fit === "cover") {
    const scale = Math.max(width / srcW, height / srcH);
    // The part of the source that lands inside width x height, centred.
    const cw = Math.min(srcW, Math.max(1, Math.round(width / scale)));
    const ch = Math.min(srcH, Math.max(1, Math.round(height / scale)));
    return {
      width,
      height,
      crop: { x: Math.floor((srcW - cw) / 2), y: Math.floor((srcH - ch) / 2), width: cw, height: ch },
    };
  }
  let scale = Math.min(width / srcW, height / srcH);
  if (fit === "scale-down") scale = Math.min(1, scale);
  return { width: Math.min(width, clampDim(srcW * scale)), height: Math.min(height, clampDim(srcH * scale)), crop: whole };
}

/** Size of the copy the curves are estimated on: longer side `size`, never enlarged. */
export function estimationDims(width: number, height: number, size: number): { width: number; height: number } {
  const { width: w, height: h } = fitSize(width, height, size, size, "scale-down");
  return { width: w, height: h };
}
