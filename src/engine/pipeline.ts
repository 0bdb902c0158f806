/**
 * The pipeline that joins the image steps and the model, runtime-agnostic (the Worker and the Node CLI
 * run this same code):
 *   sniff -> header dimensions checked against the pixel budget before decoding -> decode -> orient ->
 *   resize to the output size -> downscale to estimation size -> model -> upsample curves and apply at
 *   output size -> encode.
 * Throws HttpError (415 unsupported, 422 undecodable / over pixel budget) for bad images.
 */
import { modelInfoFromMetadata, type ModelInfo } from "./model-info.ts";
import { HttpError } from "../shared/errors.ts";
import { readHeader } from "../image/sniff.ts";
import { CODEC_NAMES, codecMemory, decode, encode, hasAlpha, initCodecs, type CodecModules } from "../image/codecs.ts";
import { applyOrientation, orientedSize, sourceRect } from "../image/orient.ts";
import { cropImage, ESTIMATION_FILTER, estimationDims, fitSize, OUTPUT_FILTER, resizeImage, resizeMemory } from "../image/resize.ts";
import { autoStrength, boundStrength, MAX_STRENGTH, contentMask, EXPOSURE_SIZE, exposureScore, type CurveMaps } from "../image/curves.ts";
import { applyCurvesWasm, areaDownscaleWasm, denoiseWasm, initPixels, measureNoiseWasm, pixelsMemory } from "../image/pixels.ts";
import { denoiseAmount, DENOISE_DEFAULTS, lumaGrid, type Gain } from "../image/denoise.ts";
import { readOnnxMetadata } from "./onnx-metadata.ts";
import { loadModel, runtimeMemory, type ModelRunner } from "./runtime.ts";
import type { WasmMemoryReport } from "../image/wasm-memory.ts";
import type { Fit, ImageFormat, RgbaImage } from "../shared/image.ts";


export interface PipelineLimits {
  /** Max width*height of the source, read from the header before decoding (422 above). */
  maxSourcePixels: number;
  /**
   * Max width*height of a PNG source (422 above; default: maxSourcePixels). PNG decoding needs about
   * 17 bytes per pixel of WASM heap against about 4.5 for JPEG, so PNG sources get a lower limit.
   */
  maxPngSourcePixels?: number;
  /**
   * Max width*height of an AVIF source (422 above; default: maxSourcePixels). libavif + dav1d need
   * about 15 bytes per pixel of heap (a 12 MP AVIF: 188 MB), so AVIF sources get a lower limit.
   */
  maxAvifSourcePixels?: number;
  /** Max width*height of a WebP source (422 above; default: maxSourcePixels): about 5.2 bytes/pixel of decoder heap. */
  maxWebpSourcePixels?: number;
  /** Max width*height of the output (422 above). */
  maxOutputPixels: number;
  /** Max output pixels for mode=full (curves estimated at full resolution; 422 above). */
  maxFullModePixels: number;
  /**
   * Max output pixels encoded as AVIF (default: maxOutputPixels). The AVIF encoder's heap and time grow
   * fastest with size: above this, an explicit format=avif is a 422 and format=auto falls back to WebP.
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
   * brightening curve (`strengthAffine`), "auto" = adapt to darkness.
   */
  strength: number | "auto";
  /**
   * Smoothing of the noise the curves lift (src/image/denoise.ts): 0 = off, 0..1 = assumed noise level,
   * "auto" (default) = the calibrated level. Regions that were not brightened are never touched.
   */
  denoise?: number | "auto";
  /**
   * strength=auto never brightens the content (mean luma or mean RGB, the higher) above this
   * (default AUTO_MAX_MEAN, 0.6); 1 turns the cap off (the exposure score alone decides).
   */
  autoMaxMean?: number;
  /**
   * strength=auto lifts content the model's full curves leave darker than this (default
   * AUTO_MIN_MEAN, 0.45) by going past them, up to strength autoMaxLift (default AUTO_MAX_LIFT, 1.5;
   * 1 turns the lift off).
   */
  autoMinMean?: number;
  autoMaxLift?: number;
  mode: "fast" | "full";
  /** Apply EXIF orientation (JPEG). */
  orient: boolean;
  limits: PipelineLimits;
  /** Called after each stage with the current image (memory measurements, scripts/memory.ts). */
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
  /**
   * Milliseconds per stage (decode, orient, resize, estimate, model, curves, denoise, encode). Meaningful in
   * Node; in production Workers the clock does not advance during CPU work.
   */
  timings: Record<string, number>;
}

export interface Engine {
  model: ModelInfo & { sha256: string };
  enhance(input: Uint8Array, opts: PipelineOptions): Promise<PipelineResult>;
  /** Byte size of every WASM memory of this isolate/process now (see src/image/wasm-memory.ts). */
  memory(): WasmMemoryReport;
}

/** What an engine is built from; the Worker imports these, the Node CLIs compile/read them. */
export interface EngineDeps {
  codecs: CodecModules;
  /** onnxruntime-web's ort-wasm-simd-threaded.wasm, precompiled. */
  ortWasm: WebAssembly.Module;
  /** The .onnx file; its metadata says how to use it. */
  model: Uint8Array<ArrayBuffer>;
  /** src/image/pixels.wasm (the curves and denoise kernels), precompiled. */
  pixels: WebAssembly.Module;
}

/** Build an engine: codecs initialised, ORT session created, model metadata read and hashed. */
export async function createEngine(deps: EngineDeps): Promise<Engine> {
  const info = modelInfoFromMetadata(readOnnxMetadata(deps.model));
  if (info.curveMaps !== 1 && info.curveMaps !== info.iterations) {
    throw new Error(`model has ${info.curveMaps} curve maps for ${info.iterations} iterations; expected 1 or ${info.iterations}`);
  }
  await initCodecs(deps.codecs);
  initPixels(deps.pixels);
  const runner = await loadModel(deps.ortWasm, deps.model);
  const digest = await crypto.subtle.digest("SHA-256", deps.model);
  const sha256 = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  const model = { ...info, sha256 };
  // One request's pipeline at a time per isolate: each holds a decoded image (up to 50 MB at the
  // source limit) and the CPU is single-threaded anyway, so overlapping them only stacks memory.
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(job: () => Promise<T>): Promise<T> => {
    const run = queue.then(job, job);
    queue = run.catch(() => undefined);
    return run;
  };
  return { model, enhance: (input, opts) => serialised(() => enhance(runner, model, input, opts)), memory: wasmMemory };
}

function wasmMemory(): WasmMemoryReport {
  const c = codecMemory();
  const r = resizeMemory();
  const ort = runtimeMemory();
  const px = pixelsMemory();
  return {
    ort,
    png: c.png,
    jpegDec: c.jpegDec,
    jpegEnc: c.jpegEnc,
    webpDec: c.webpDec,
    webpEnc: c.webpEnc,
    avifDec: c.avifDec,
    avifEnc: c.avifEnc,
    resize: r.bytes,
    pixels: px.bytes,
    total: ort + CODEC_NAMES.reduce((sum, n) => sum + c[n], 0) + r.bytes + px.bytes,
    peak: { ...c.peak, resize: r.peak, pixels: px.peak },
  };
}

/** `param`: the request parameter that would fix it (a smaller w/h, another mode or format), if any. */
function tooManyPixels(what: string, w: number, h: number, limit: number, param?: string): HttpError {
  return new HttpError(422, "too_many_pixels", `${what} is ${w}x${h} = ${w * h} pixels; the limit is ${limit}`, param);
}

/** RGB of an RGBA image as float32 NCHW in [0, 1] (the model input). */
function toModelInput(img: RgbaImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  const d = img.data;
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    out[i] = d[p]! / 255;
    out[n + i] = d[p + 1]! / 255;
    out[2 * n + i] = d[p + 2]! / 255;
  }
  return out;
}

/**
 * `img` scaled down to fit `size` px (longer side) with the training data's filter, made from `from`
 * (img itself or a smaller copy of it); img itself when it already fits.
 */
async function estimationCopy(img: RgbaImage, from: RgbaImage, size: number): Promise<RgbaImage> {
  const e = estimationDims(img.width, img.height, size);
  if (e.width === from.width && e.height === from.height) return from;
  // "area" runs in WASM, with resizeImage's bytes.
  return ESTIMATION_FILTER === "area" ? areaDownscaleWasm(from, e.width, e.height) : resizeImage(from, e.width, e.height, ESTIMATION_FILTER);
}

async function enhance(runner: ModelRunner, model: ModelInfo, input: Uint8Array, opts: PipelineOptions): Promise<PipelineResult> {
  const { limits } = opts;
  // The Worker validates parameters first; these guard the other callers (CLIs, tests).
  if (typeof opts.strength === "number" && !(opts.strength >= 0 && opts.strength <= MAX_STRENGTH)) {
    throw new HttpError(400, "bad_parameter", `strength must be between 0 and ${MAX_STRENGTH} or "auto", got ${opts.strength}`);
  }
  if (typeof opts.denoise === "number" && !(opts.denoise >= 0 && opts.denoise <= 1)) {
    throw new HttpError(400, "bad_parameter", `denoise must be between 0 and 1 or "auto", got ${opts.denoise}`);
  }
  if (opts.quality !== undefined && (!Number.isInteger(opts.quality) || opts.quality < 1 || opts.quality > 100)) {
    throw new HttpError(400, "bad_parameter", `quality must be an integer from 1 to 100, got ${opts.quality}`);
  }
  for (const [name, v] of [["width", opts.width], ["height", opts.height]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      throw new HttpError(400, "bad_parameter", `${name} must be a positive integer, got ${v}`);
    }
  }
  // Everything that can be refused from the header is refused before decoding.
  const header = readHeader(input);
  if (header.width * header.height > limits.maxSourcePixels) {
    throw tooManyPixels("the source image", header.width, header.height, limits.maxSourcePixels);
  }
  if (header.format === "png" && limits.maxPngSourcePixels !== undefined && header.width * header.height > limits.maxPngSourcePixels) {
    throw tooManyPixels("the PNG source image", header.width, header.height, limits.maxPngSourcePixels);
  }
  if (header.format === "avif" && limits.maxAvifSourcePixels !== undefined && header.width * header.height > limits.maxAvifSourcePixels) {
    throw tooManyPixels("the AVIF source image", header.width, header.height, limits.maxAvifSourcePixels);
  }
  if (header.format === "webp" && limits.maxWebpSourcePixels !== undefined && header.width * header.height > limits.maxWebpSourcePixels) {
    throw tooManyPixels("the WebP source image", header.width, header.height, limits.maxWebpSourcePixels);
  }
  const orientation = header.format === "jpeg" && opts.orient ? header.orientation : 1;
  const upright = orientedSize(header.width, header.height, orientation);
  const target = fitSize(upright.width, upright.height, opts.width, opts.height, opts.fit);
  if (target.width * target.height > limits.maxOutputPixels) {
    throw tooManyPixels("the output image", target.width, target.height, limits.maxOutputPixels, "w");
  }
  if (opts.mode === "full" && opts.strength !== 0 && target.width * target.height > limits.maxFullModePixels) {
    throw tooManyPixels("mode=full output", target.width, target.height, limits.maxFullModePixels, "mode");
  }
  let format = opts.format;
  const maxAvif = limits.maxAvifPixels ?? limits.maxOutputPixels;
  if (format === "avif" && target.width * target.height > maxAvif) {
    if (!opts.avifFallback) throw tooManyPixels("an AVIF output", target.width, target.height, maxAvif, "format");
    format = "webp";
  }

  const timings: Record<string, number> = {};
  let clock = performance.now();
  const lap = (stage: string): void => {
    const now = performance.now();
    timings[stage] = (timings[stage] ?? 0) + (now - clock);
    clock = now;
    opts.probe?.(stage, img);
  };

  let img: RgbaImage;
  try {
    img = await decode(input, header.format);
  } catch (e) {
    // Emscripten's exit() throws an ExitStatus object, not an Error.
    const why = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e);
    throw new HttpError(422, "undecodable", `the ${header.format.toUpperCase()} image could not be decoded (${why})`);
  }
  if (format === "source") format = header.format === "jpeg" || header.format === "png" ? header.format : hasAlpha(img) ? "png" : "jpeg";
  const outputFormat: ImageFormat = format;
  if (img.width !== header.width || img.height !== header.height) {
    throw new HttpError(422, "undecodable", `the image header says ${header.width}x${header.height} but it decodes to ${img.width}x${img.height}`);
  }
  lap("decode");
  // Crop and resize in the stored orientation, then orient: rotating a thumbnail instead of a
  // 12 MP source saves a 50 MB copy (resizing commutes with flips and transposes).
  const crop = sourceRect(target.crop, orientation, img.width, img.height);
  const swap = orientation >= 5 && orientation <= 8;
  img = cropImage(img, crop.x, crop.y, crop.width, crop.height);
  img = await resizeImage(img, swap ? target.height : target.width, swap ? target.width : target.height, OUTPUT_FILTER);
  lap("resize");
  img = applyOrientation(img, orientation);
  lap("orient");

  // The image the curves are estimated on: a small copy (fast) or the output itself (full).
  let estimate: RgbaImage | undefined;
  let probe: RgbaImage | undefined;
  let probeMask: Uint8Array | undefined;
  // Resolved below when "auto"; 0 skips the model.
  let strength = opts.strength === "auto" ? 1 : opts.strength;
  if (strength !== 0) {
    // "auto" reads the exposure on a copy of EXPOSURE_SIZE px in every mode and for every model, so
    // its calibration does not move with an export's estimation size; a smaller estimation copy is
    // then made from that copy (a fraction of a full-size pass).
    const size = model.estimationSize;
    const fromProbe = opts.mode === "fast" && size <= EXPOSURE_SIZE;
    const auto = opts.strength === "auto";
    probe = auto || fromProbe ? await estimationCopy(img, img, EXPOSURE_SIZE) : img;
    if (auto) {
      probeMask = contentMask(probe);
      strength = autoStrength(exposureScore(probe, probeMask));
    }
    if (strength !== 0) estimate = opts.mode === "full" ? img : await estimationCopy(img, fromProbe ? probe : img, size);
    lap("estimate");
  }
  let maps: CurveMaps | undefined;
  if (strength !== 0 && estimate) {
    maps = await runner.run(toModelInput(estimate), estimate.width, estimate.height);
    // auto, second half: no brighter than a well-lit night (AUTO_MAX_MEAN), judged on the probe.
    // ...and no darker than the low end of a well-lit night (AUTO_MIN_MEAN), past the model's curves if need be.
    if (probe && probeMask) {
      strength = boundStrength(probe, maps, model.iterations, strength, { maxMean: opts.autoMaxMean, minMean: opts.autoMinMean, maxLift: opts.autoMaxLift }, probeMask);
    }
    lap("model");
  }
  if (strength !== 0 && estimate && maps) {
    // Denoise smooths each region by how much it was brightened and how noisy the input is: the
    // noise is measured on the input (full size), the gain on the estimation copy, whose curves are
    // the same maps at their own resolution (a pass over a few thousand pixels instead of two full-size ones).
    const amount = opts.denoise === 0 ? 0 : denoiseAmount(opts.denoise, measureNoiseWasm(img));
    let gain: Gain | undefined;
    let cell = 0;
    if (amount > 0) {
      // Cells of about DENOISE_DEFAULTS.cell output pixels.
      cell = Math.max(1, Math.round((DENOISE_DEFAULTS.cell * estimate.width) / img.width));
      const before = lumaGrid(estimate, cell);
      gain = estimate === img
        ? { before, after: before } // full mode: measured on the output after the curves, below
        : { before, after: lumaGrid(applyCurvesWasm(estimate, maps, model.iterations, strength, new Uint8Array(estimate.data.length)), cell) };
      lap("denoise");
    }
    // In place: `img` is this request's own buffer (decoded or resized), not needed afterwards.
    img = applyCurvesWasm(img, maps, model.iterations, strength);
    lap("curves");
    if (gain) {
      if (gain.after === gain.before) gain.after = lumaGrid(img, cell);
      // f32 window sums: 12% faster than the f64 (bit-exact) ones, within a level on ~0.02% of bytes.
      denoiseWasm(img, gain, amount, DENOISE_DEFAULTS, { precision: "f32" });
      lap("denoise");
    }
  }
  const bytes = await encode(img, outputFormat, opts.quality === undefined ? {} : { quality: opts.quality });
  lap("encode");
  return { bytes, format: outputFormat, width: img.width, height: img.height, strength, timings };
}
