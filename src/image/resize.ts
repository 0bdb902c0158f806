/**
 * Resizing with @jsquash/resize's WASM resampler (Rust `resize` crate: filters widen with the scale
 * factor, so downscaling is properly antialiased). Shared by the pipeline (output size, estimation copy)
 * and the trainer's data loader, so training and serving see the same kind of input.
 *
 * The resampler needs no imports, so we drive its exports directly. An instance is kept for the next
 * call while its memory is small (instance-pool.ts; first touches of a fresh memory cost more than
 * the resize); WASM memories never shrink, so a large call's instance is let go. Large downscales are
 * first reduced by exact area averaging to at most twice the target (and at most
 * WASM_RESIZE_MAX_PIXELS), so the WASM copy of the input stays small.
 */
import { hasAlpha, type Fit, type RgbaImage } from "../shared/image.ts";
import { MemoryTracker } from "./wasm-memory.ts";
import { InstancePool } from "./instance-pool.ts";

/**
 * "area": exact area averaging in JS (each output pixel is the mean of the source area it covers), for
 * downscaling only; it reads the image in place, so it does not copy the whole source into the
 * resampler's WASM heap (which never shrinks). Enlarging with "area" falls back to "triangle".
 */
export type ResizeFilter = "area" | "triangle" | "catrom" | "mitchell" | "lanczos3";
const FILTER_INDEX: Record<Exclude<ResizeFilter, "area">, number> = { triangle: 0, catrom: 1, mitchell: 2, lanczos3: 3 };

/** Filter for output-size resizes (thumbnails): sharp, little ringing. */
export const OUTPUT_FILTER: ResizeFilter = "lanczos3";
/**
 * Filter for the small copy the curves are estimated on (and the trainer's inputs): area averaging,
 * cheap and alias-free, and no source-sized allocation in WASM on every enhanced request.
 */
export const ESTIMATION_FILTER: ResizeFilter = "area";

let ready: Promise<unknown> | undefined;
let compiled: WebAssembly.Module | undefined;
const tracker = new MemoryTracker();

/**
 * Input pixels above which a downscale is pre-reduced in JS before the WASM resampler: half a
 * megapixel keeps the resampler's heap small while a 12 MP decode is still alive (a full megapixel
 * took the 12 MP-to-thumbnail request over 100 MB: npm run memory -- --trace EXIF).
 */
export const WASM_RESIZE_MAX_PIXELS = 512 * 1024;

/** Take the resampler's module once per isolate/process (precompiled, or bytes compiled here in Node). */
export function initResize(wasm: WebAssembly.Module | BufferSource): Promise<unknown> {
  ready ??= (async () => {
    compiled = wasm instanceof WebAssembly.Module ? wasm : await WebAssembly.compile(wasm);
    new WebAssembly.Instance(compiled, {}); // fail now if the module does not instantiate without imports
  })();
  ready.catch(() => (ready = undefined));
  return ready;
}

/** Bytes of the resampler's memories still reachable (the idle one included), and the largest one it has had. */
export function resizeMemory(): { bytes: number; peak: number } {
  return { bytes: tracker.bytes() + pool.bytes(), peak: tracker.peak() };
}

function assertReady(): void {
  if (!ready) throw new Error("resize used before initResize()/initCodecs()");
}

interface ResizeExports {
  memory: WebAssembly.Memory;
  resize(retptr: number, ptr: number, len: number, iw: number, ih: number, ow: number, oh: number, filter: number, premultiply: number, linear: number): void;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_add_to_stack_pointer(delta: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
}

const pool = new InstancePool<ResizeExports>((e) => e.memory);

/** One call of the Rust resampler (in the instance the last call left, or a fresh one); the result is copied out. */
function wasmResize(img: RgbaImage, width: number, height: number, filter: number): Uint8Array {
  const e = pool.take() ?? (new WebAssembly.Instance(compiled!, {}).exports as unknown as ResizeExports);
  tracker.start(e.memory);
  let out: Uint8Array, at: number, length: number;
  try {
    const retptr = e.__wbindgen_add_to_stack_pointer(-16);
    const ptr = e.__wbindgen_malloc(img.data.length, 1) >>> 0;
    new Uint8Array(e.memory.buffer).set(img.data, ptr);
    // The input is the resampler's to free; its result is ours.
    e.resize(retptr, ptr, img.data.length, img.width, img.height, width, height, filter, 0, 0);
    const ret = new Int32Array(e.memory.buffer, retptr, 2);
    at = ret[0]! >>> 0;
    length = ret[1]! >>> 0;
    out = new Uint8Array(e.memory.buffer, at, length).slice();
    e.__wbindgen_add_to_stack_pointer(16);
  } finally {
    tracker.end(e.memory);
  }
  // Kept once the job is over (not counted twice as running and idle).
  pool.keep(e, () => e.__wbindgen_free(at, length, 1));
  if (out.length !== width * height * 4) throw new Error(`resampler returned ${out.length} bytes for ${width}x${height}`);
  return out;
}

/** Size to area-reduce a large source to before the WASM resampler: <= 2x the target, <= WASM_RESIZE_MAX_PIXELS, >= the target. */
function preReduction(w: number, h: number, width: number, height: number): { width: number; height: number } {
  let pw = Math.min(w, 2 * width);
  let ph = Math.min(h, 2 * height);
  if (pw * ph > WASM_RESIZE_MAX_PIXELS) {
    const f = Math.sqrt(WASM_RESIZE_MAX_PIXELS / (pw * ph));
    pw = Math.max(width, Math.floor(pw * f));
    ph = Math.max(height, Math.floor(ph * f));
  }
  return { width: pw, height: ph };
}

/**
 * Resample `img` to exactly width x height. Returns `img` itself when the size is unchanged (so a
 * no-op resize leaves pixels untouched). Images with alpha are resized premultiplied; linear-light
 * conversion is off: the model was trained on sRGB values resized this way, and it costs time.
 */
export async function resizeImage(
  img: RgbaImage,
  width: number,
  height: number,
  filter: ResizeFilter = OUTPUT_FILTER,
  /** false when the caller knows the image is opaque (a JPEG), sparing a scan of every pixel. */
  mayHaveAlpha = true,
  /** The exact area averaging of "area" and of the pre-reduction (the pipeline passes pixels.ts's WASM one: the same bytes). */
  area: AreaDownscale = areaDownscale,
): Promise<RgbaImage> {
  assertReady();
  await ready;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize target must be positive integers, got ${width}x${height}`);
  }
  if (width === img.width && height === img.height) return img;
  // With alpha, colours are averaged weighted by it (premultiplied), or transparent pixels' colours
  // (often black) bleed into the edges as dark fringes.
  if (mayHaveAlpha && hasAlpha(img)) return unpremultiply(await resizeOpaque(premultiply(img), width, height, filter, area));
  return resizeOpaque(img, width, height, filter, area);
}

/** areaDownscale's signature (its WASM twin's too). */
export type AreaDownscale = (img: RgbaImage, width: number, height: number) => RgbaImage;

async function resizeOpaque(img: RgbaImage, width: number, height: number, filter: ResizeFilter, area: AreaDownscale): Promise<RgbaImage> {
  const down = width <= img.width && height <= img.height;
  if (filter === "area") {
    if (down) return area(img, width, height);
    filter = "triangle";
  }
  if (down && img.width * img.height > WASM_RESIZE_MAX_PIXELS) {
    const pre = preReduction(img.width, img.height, width, height);
    if (pre.width !== img.width || pre.height !== img.height) img = area(img, pre.width, pre.height);
    if (img.width === width && img.height === height) return img;
  }
  return { width, height, data: wasmResize(img, width, height, FILTER_INDEX[filter]) };
}

/** A copy with R, G, B multiplied by alpha (all of 0-255). */
function premultiply(img: RgbaImage): RgbaImage {
  const d = img.data;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]!;
    out[i] = Math.round((d[i]! * a) / 255);
    out[i + 1] = Math.round((d[i + 1]! * a) / 255);
    out[i + 2] = Math.round((d[i + 2]! * a) / 255);
    out[i + 3] = a;
  }
  return { width: img.width, height: img.height, data: out };
}

/** Undoes premultiply, in place. */
function unpremultiply(img: RgbaImage): RgbaImage {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]!;
    if (a === 255) continue;
    if (a === 0) {
      d[i] = d[i + 1] = d[i + 2] = 0;
      continue;
    }
    d[i] = Math.min(255, Math.round((d[i]! * 255) / a));
    d[i + 1] = Math.min(255, Math.round((d[i + 1]! * 255) / a));
    d[i + 2] = Math.min(255, Math.round((d[i + 2]! * 255) / a));
  }
  return img;
}

/**
 * For each source index along an axis of `inSize` -> `outSize` (outSize <= inSize): the output index it
 * starts in and the fraction of its unit length that falls there (the rest goes to the next one).
 */
export function areaTaps(inSize: number, outSize: number): { to: Int32Array; w: Float64Array } {
  const s = inSize / outSize;
  const to = new Int32Array(inSize);
  const w = new Float64Array(inSize);
  for (let x = 0; x < inSize; x++) {
    const o = Math.min(outSize - 1, Math.floor(x / s));
    const boundary = (o + 1) * s;
    to[x] = o;
    w[x] = o === outSize - 1 || x + 1 <= boundary ? 1 : boundary - x;
  }
  return { to, w };
}

/**
 * Per output column along an axis of `inSize` -> `outSize` (outSize <= inSize): the source pixels
 * wholly inside it [start, end) and the fraction `split` of pixel `end` that falls inside (0 when no
 * pixel straddles its right boundary; the rest of a straddler goes to the next column).
 */
export function areaSpans(inSize: number, outSize: number): { start: Int32Array; end: Int32Array; split: Float64Array } {
  const { to, w } = areaTaps(inSize, outSize);
  const start = new Int32Array(outSize);
  const end = new Int32Array(outSize);
  const split = new Float64Array(outSize);
  for (let x = inSize - 1; x >= 0; x--) start[to[x]!] = x;
  for (let o = 0; o < outSize; o++) {
    // A pixel that starts in o and spills into o + 1 ends the run of whole pixels.
    let e = start[o]!;
    while (e < inSize && to[e] === o && w[e] === 1) e++;
    end[o] = e;
    split[o] = e < inSize && to[e] === o ? w[e]! : 0;
  }
  return { start, end, split };
}

// Twin on purpose: areaDownscaleWasm (pixels.ts, assembly/pixels.ts) serves; this is the tested reference.
/** Exact area-average downscale, one source row at a time (memory: two output rows of floats). */
export function areaDownscale(img: RgbaImage, width: number, height: number): RgbaImage {
  const { width: W, height: H, data: src } = img;
  const xs = areaSpans(W, width);
  const ys = areaTaps(H, height);
  const rowAcc = new Float64Array(width * 4); // current source row, averaged horizontally
  let cur = new Float64Array(width * 4); // output row being accumulated
  let next = new Float64Array(width * 4); // the following output row (straddling source rows)
  const out = new Uint8Array(width * height * 4);
  const norm = 1 / ((W / width) * (H / height));
  let oy = 0;
  for (let y = 0; y < H; y++) {
    // Whole pixels summed in locals per output column; a straddling pixel is split between the
    // column it starts in and the next (carried in cr..ca).
    let cr = 0, cg = 0, cb = 0, ca = 0;
    const row = y * W * 4;
    for (let o = 0; o < width; o++) {
      let r = cr, g = cg, b = cb, a = ca;
      const e = xs.end[o]!;
      // start[o] is past any straddler of o - 1: that one belongs to the column it starts in.
      let x = xs.start[o]!;
      for (let p = row + 4 * x; x < e; x++, p += 4) {
        r += src[p]!;
        g += src[p + 1]!;
        b += src[p + 2]!;
        a += src[p + 3]!;
      }
      const w0 = xs.split[o]!;
      if (w0 > 0) {
        const p = row + 4 * e;
        const w1 = 1 - w0;
        r += src[p]! * w0;
        g += src[p + 1]! * w0;
        b += src[p + 2]! * w0;
        a += src[p + 3]! * w0;
        cr = src[p]! * w1;
        cg = src[p + 1]! * w1;
        cb = src[p + 2]! * w1;
        ca = src[p + 3]! * w1;
      } else cr = cg = cb = ca = 0;
      const k = 4 * o;
      rowAcc[k] = r;
      rowAcc[k + 1] = g;
      rowAcc[k + 2] = b;
      rowAcc[k + 3] = a;
    }
    const ty = ys.to[y]!;
    const wy = ys.w[y]!;
    while (oy < ty) {
      // Output row oy is complete: every source row covering it has been added.
      for (let i = 0; i < width * 4; i++) out[oy * width * 4 + i] = Math.min(255, Math.round(cur[i]! * norm));
      [cur, next] = [next, cur];
      next.fill(0);
      oy++;
    }
    for (let i = 0; i < width * 4; i++) cur[i] = cur[i]! + rowAcc[i]! * wy;
    if (wy < 1) for (let i = 0; i < width * 4; i++) next[i] = next[i]! + rowAcc[i]! * (1 - wy);
  }
  for (; oy < height; oy++) {
    for (let i = 0; i < width * 4; i++) out[oy * width * 4 + i] = Math.min(255, Math.round(cur[i]! * norm));
    [cur, next] = [next, cur];
    next.fill(0);
  }
  return { width, height, data: out };
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
