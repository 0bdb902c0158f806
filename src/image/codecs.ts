/**
 * The one owner of the image codecs: PNG, WebP and AVIF with jSquash (Squoosh's WASM codecs,
 * single-thread builds; PNG through png-codec.ts's glue; WebP thumbnails with libwebp's own build,
 * webp-dec.ts), JPEG with libjpeg-turbo (jpeg-turbo.ts),
 * HEIC with libheif (heif.ts), GIF with omggif. The WASM arrives as precompiled `WebAssembly.Module`s
 * (workerd refuses to compile bytes at run time; Node compiles them once).
 *
 * WASM memories grow and never shrink, so an instance that served one large photo would keep tens of
 * MB for the isolate's lifetime: a job runs in the instance the last job of its kind left only when
 * that stayed small (instance-pool.ts: at most 16 MB each, 32 MB in all, none kept through a large
 * request), else in a fresh one, dropped when the job is done. An instance that threw (a trap on a
 * hostile file) is never reused. The JPEG and WebP decoders hand their pixels over without a copy: the
 * decoded image is a view into the instance's memory, which is not lent again until the request ends.
 */
import webpDecFactory from "@jsquash/webp/codec/dec/webp_dec.js";
import webpEncFactory from "@jsquash/webp/codec/enc/webp_enc_simd.js";
import { defaultOptions as webpDefaults } from "@jsquash/webp/meta.js";
import avifDecFactory from "@jsquash/avif/codec/dec/avif_dec.js";
import avifEncFactory from "@jsquash/avif/codec/enc/avif_enc.js";
import { defaultOptions as avifDefaults } from "@jsquash/avif/meta.js";
import { initResize } from "./resize.ts";
import { GifReader } from "omggif";
import { DEFAULT_QUALITY, FAST_AVIF, FAST_WEBP, jpegTurboQuality } from "./encoder-settings.ts";
import { asBytes, hasAlpha, type ImageFormat, type InputFormat, type RgbaImage } from "../shared/image.ts";
import { findMemory, MemoryTracker } from "./wasm-memory.ts";
import { decodeJpeg, encodeJpeg, jpegPoolBytes, type ShrinkFactor } from "./jpeg-turbo.ts";
import { InstancePool, poolClock, recyclePools } from "./instance-pool.ts";
import { decodeHeif, type LibHeifFactory } from "./heif.ts";
import libheifFactory from "libheif-js/libheif-wasm/libheif.js";
import { checkGifLzw } from "./gif-lzw.ts";
import { checkPng, decodePng, encodePng } from "./png-codec.ts";
import { decodeWebpScaled } from "./webp-dec.ts";

export interface CodecModules {
  png: WebAssembly.Module; // @jsquash/png/codec/pkg/squoosh_png_bg.wasm
  jpeg: WebAssembly.Module; // src/image/jpeg-turbo.wasm (libjpeg-turbo, built by scripts/wasm/jpeg-turbo/build.sh)
  webpDec: WebAssembly.Module; // @jsquash/webp/codec/dec/webp_dec.wasm
  webpScaled: WebAssembly.Module; // src/image/webp-dec.wasm (libwebp, built by scripts/wasm/webp/build.sh): thumbnails
  webpEnc: WebAssembly.Module; // @jsquash/webp/codec/enc/webp_enc_simd.wasm
  avifDec: WebAssembly.Module; // @jsquash/avif/codec/dec/avif_dec.wasm
  avifEnc: WebAssembly.Module; // @jsquash/avif/codec/enc/avif_enc.wasm (single-thread)
  resize: WebAssembly.Module; // @jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm
  heif: WebAssembly.Module; // libheif-js/libheif-wasm/libheif.wasm (LGPL-3.0, unmodified: docs/licences.md)
}

// jSquash's Emscripten glue defines a global ImageData polyfill where none exists (Node, workerd),
// as a class created inside the codec instance's closure: the first instance would then stay
// reachable from globalThis forever, with its heap. Defining it here first avoids that.
(globalThis as { ImageData?: unknown }).ImageData ??= class ImageData {
  constructor(
    public data: Uint8ClampedArray,
    public width: number,
    public height: number,
  ) {}
};

/** The Emscripten-built codecs (one factory each) and every codec whose memory is accounted. */
type EmscriptenName = "webpDec" | "webpEnc" | "avifDec" | "avifEnc";
/** Memory is accounted per role: libjpeg-turbo's decode and encode jobs count as jpegDec and jpegEnc. */
export type CodecName = "png" | "jpegDec" | "jpegEnc" | "heifDec" | EmscriptenName;
export const CODEC_NAMES: readonly CodecName[] = ["png", "jpegDec", "jpegEnc", "heifDec", "webpDec", "webpEnc", "avifDec", "avifEnc"];
const EMSCRIPTEN: readonly EmscriptenName[] = ["webpDec", "webpEnc", "avifDec", "avifEnc"];
const trackers = Object.fromEntries(CODEC_NAMES.map((n) => [n, new MemoryTracker()])) as Record<CodecName, MemoryTracker>;

let modules: CodecModules | undefined;
let initialised: Promise<void> | undefined;

/** Take the compiled modules (memoised; later calls return the same promise) and check each instantiates. */
export function initCodecs(m: CodecModules): Promise<void> {
  initialised ??= (async () => {
    modules = m;
    await initResize(m.resize);
    // Fail at start-up, not on the first request, if a module does not fit its glue.
    for (const name of EMSCRIPTEN) {
      const { memory } = await emscriptenInstance(m[name], name);
      trackers[name].end(memory);
    }
    checkPng(m.png, trackers.png);
    // A 1x1 JPEG through the decoder and back through the encoder: the imports match the module.
    const since = poolClock();
    encodeJpeg(m.jpeg, decodeJpeg(m.jpeg, ONE_PIXEL_JPEG, 1), 85);
    recyclePools(since);
  })();
  initialised.catch(() => (initialised = undefined));
  return initialised;
}


/** Current byte size of each codec's reachable WASM memories (idle instances included), and the largest each has had. */
export function codecMemory(): Record<CodecName, number> & { peak: Record<CodecName, number> } {
  const now = Object.fromEntries(CODEC_NAMES.map((n) => [n, trackers[n].bytes()])) as Record<CodecName, number>;
  const idle = jpegPoolBytes();
  now.jpegDec += idle.decoder;
  now.jpegEnc += idle.encoder;
  for (const name of EMSCRIPTEN) now[name] += emscriptenPools[name].bytes();
  const peak = Object.fromEntries(CODEC_NAMES.map((n) => [n, trackers[n].peak()])) as Record<CodecName, number>;
  return { ...now, peak };
}

async function ready(): Promise<CodecModules> {
  if (!initialised) throw new Error("codecs used before initCodecs()");
  await initialised;
  return modules!;
}

// ---- WebP, AVIF: jSquash's Emscripten builds, one module object per job, kept for the next while small ----

type Decoded = { data: Uint8ClampedArray; width: number; height: number } | null;
/** The union of the builds' entry points: decode(data, option) (AVIF: bit depth) and encode. */
interface EmscriptenCodec {
  decode(data: Uint8Array, option?: boolean | number): Decoded;
  encode(data: Uint8Array, width: number, height: number, options: object): Uint8Array | null;
}
type EmscriptenFactory = (options: object) => Promise<EmscriptenCodec>;

const FACTORIES = {
  webpDec: webpDecFactory,
  webpEnc: webpEncFactory,
  avifDec: avifDecFactory,
  avifEnc: avifEncFactory,
} as unknown as Record<EmscriptenName, EmscriptenFactory>;

interface EmscriptenInstance {
  name: EmscriptenName;
  module: EmscriptenCodec;
  memory: WebAssembly.Memory;
}

/** Idle instances per codec, kept for the next job (instance-pool.ts). */
const emscriptenPools = Object.fromEntries(EMSCRIPTEN.map((n) => [n, new InstancePool<EmscriptenInstance>((i) => i.memory)])) as Record<EmscriptenName, InstancePool<EmscriptenInstance>>;

/** An instance of a jSquash Emscripten codec for a job: the idle one, or a fresh one. */
async function emscriptenJob(compiled: WebAssembly.Module, name: EmscriptenName): Promise<EmscriptenInstance> {
  const idle = emscriptenPools[name].take();
  if (!idle) return emscriptenInstance(compiled, name);
  trackers[name].start(idle.memory);
  return idle;
}

/** A fresh instance of a jSquash Emscripten codec from its compiled module (as jSquash's own init does). */
async function emscriptenInstance(compiled: WebAssembly.Module, name: EmscriptenName): Promise<EmscriptenInstance> {
  let memory: WebAssembly.Memory | undefined;
  const factory = FACTORIES[name];
  const module = await factory({
    noInitialRun: true,
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void): WebAssembly.Exports {
      const instance = new WebAssembly.Instance(compiled, imports);
      memory = findMemory(instance.exports, imports);
      done(instance);
      return instance.exports;
    },
  });
  if (!memory) throw new Error(`${name}: the codec's WASM memory was not found`);
  trackers[name].start(memory);
  return { name, module, memory };
}

/**
 * The Emscripten decoders copy their RGBA result out of their heap with `new Uint8ClampedArray(heapView)`,
 * looked up on globalThis at call time. During the (synchronous) decode we make that constructor
 * return a view instead of a copy when given a view of this instance's heap, so a 12 MP image
 * exists once (50 MB), not twice. Nothing else runs during a synchronous call; every other use
 * still constructs normally.
 */
function decodeZeroCopy(inst: EmscriptenInstance, bytes: Uint8Array, option?: boolean | number): { data: Uint8Array; width: number; height: number } {
  const Real = globalThis.Uint8ClampedArray;
  const heap = inst.memory;
  function ViewOfHeap(this: unknown, ...args: unknown[]): Uint8ClampedArray {
    const a = args[0];
    if (args.length === 1 && ArrayBuffer.isView(a) && a.buffer === heap.buffer) {
      return new Real(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
    }
    return Reflect.construct(Real, args) as Uint8ClampedArray;
  }
  ViewOfHeap.prototype = Real.prototype;
  (globalThis as { Uint8ClampedArray: unknown }).Uint8ClampedArray = ViewOfHeap;
  let img;
  try {
    img = option === undefined ? inst.module.decode(bytes) : inst.module.decode(bytes, option);
  } finally {
    globalThis.Uint8ClampedArray = Real;
    trackers[inst.name].end(heap);
  }
  if (!img) throw new Error("the decoder returned nothing");
  // The pixels are in its heap: it may decode again once they are no longer used.
  emscriptenPools[inst.name].lend(inst);
  return { data: asBytes(img.data), width: img.width, height: img.height };
}

/**
 * AVIF: the decoder frees and reuses the RGB buffer after building its result (a view into the heap
 * came back overwritten), so its pixels are copied out as the glue intends.
 */
function decodeCopy(inst: EmscriptenInstance, bytes: Uint8Array, option: number): { data: Uint8Array; width: number; height: number } {
  let img: Decoded;
  try {
    img = inst.module.decode(bytes, option);
  } finally {
    trackers[inst.name].end(inst.memory);
  }
  if (!img) throw new Error("the decoder returned nothing");
  emscriptenPools[inst.name].keep(inst);
  return { data: asBytes(img.data), width: img.width, height: img.height };
}

/**
 * Decode to 8-bit RGBA. PNGs of every colour type and bit depth come out as RGBA8 (grey expanded,
 * 16-bit reduced to 8 by the decoder); WebP (lossy, lossless, alpha) as RGBA8; AVIF at 8 bits (10/12-bit
 * sources reduced by libavif); JPEG (libjpeg-turbo, jpeg-turbo.ts), HEIC (heif.ts) and WebP (libwebp's
 * own build, webp-dec.ts) at 1/`shrink` of their size (default 1: full size; PNG, AVIF and GIF ignore it). JPEG orientation is NOT applied here (see
 * orient.ts). Animated files are refused by the header reader before they get here. Throws whatever
 * the decoder throws on corrupt data; the pipeline maps that to 422.
 */
export async function decode(bytes: Uint8Array, format: InputFormat, shrink: ShrinkFactor = 1): Promise<RgbaImage> {
  if (format === "gif") return decodeGif(bytes);
  const m = await ready();
  let img: { data: Uint8Array; width: number; height: number };
  if (format === "png") img = decodePng(m.png, bytes, trackers.png);
  else if (format === "jpeg") img = decodeJpeg(m.jpeg, bytes, shrink, trackers.jpegDec);
  else if (format === "heic") img = decodeHeif(libheifFactory as LibHeifFactory, m.heif, bytes, shrink, trackers.heifDec);
  else if (format === "webp" && shrink > 1) img = decodeWebpScaled(m.webpScaled, bytes, shrink, trackers.webpDec);
  else if (format === "webp") img = decodeZeroCopy(await emscriptenJob(m.webpDec, "webpDec"), bytes);
  else img = decodeCopy(await emscriptenJob(m.avifDec, "avifDec"), bytes, 8);
  if (img.data.length !== img.width * img.height * 4) throw new Error("decoder returned a malformed image");
  return img;
}

/**
 * GIF, in plain JS (omggif: a GIF's LZW needs no WASM): the first frame drawn on the logical screen,
 * transparent where it does not reach. An animation is served as its first frame, a still photo
 * rather than a broken <img> (enhancing every frame would cost their number times a still's work).
 */
function decodeGif(bytes: Uint8Array): RgbaImage {
  const reader = new GifReader(bytes as Uint8Array<ArrayBuffer>);
  if (reader.numFrames() === 0) throw new Error("the GIF has no image in it");
  const { width, height } = reader;
  const frame = reader.frameInfo(0);
  if (frame.x + frame.width > width || frame.y + frame.height > height) throw new Error("the GIF's first frame lies outside its screen");
  // omggif's decoder never returns on some damaged streams (gif-lzw.ts): those are refused first.
  checkGifLzw(bytes, frame.data_offset, frame.width * frame.height);
  const data = new Uint8Array(width * height * 4);
  reader.decodeAndBlitFrameRGBA(0, data);
  return { width, height, data };
}

/** Composite onto white where alpha < 255 (JPEG has no alpha); returns the input when opaque. */
export function flattenAlpha(img: RgbaImage): RgbaImage {
  if (!hasAlpha(img)) return img;
  const d = img.data;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]! / 255;
    const bg = 255 * (1 - a);
    out[i] = Math.round(d[i]! * a + bg);
    out[i + 1] = Math.round(d[i + 1]! * a + bg);
    out[i + 2] = Math.round(d[i + 2]! * a + bg);
    out[i + 3] = 255;
  }
  return { width: img.width, height: img.height, data: out };
}

export interface EncodeOptions {
  /** Quality 1-100 for jpeg, webp and avif (default DEFAULT_QUALITY[format]); ignored for PNG. */
  quality?: number;
}

async function runEncoder(m: CodecModules, name: "webpEnc" | "avifEnc", img: RgbaImage, options: object): Promise<Uint8Array<ArrayBuffer>> {
  const inst = await emscriptenJob(m[name], name);
  let out: Uint8Array | null;
  try {
    out = inst.module.encode(img.data, img.width, img.height, options);
  } finally {
    trackers[name].end(inst.memory);
  }
  if (!out) throw new Error(`the ${name.slice(0, -3).toUpperCase()} encoder returned nothing`);
  // The encoder's result is already a copy out of its heap.
  emscriptenPools[name].keep(inst);
  return new Uint8Array(out.buffer as ArrayBuffer, out.byteOffset, out.byteLength);
}

/**
 * Encode RGBA: PNG, WebP and AVIF keep alpha; JPEG composites it onto white. JPEG is libjpeg-turbo
 * (jpeg-turbo.ts) with mozjpeg's tables, its quality mapped so a q means what it meant with mozjpeg
 * (encoder-settings.ts).
 */
export async function encode(img: RgbaImage, format: ImageFormat, opts: EncodeOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  const m = await ready();
  if (img.data.length !== img.width * img.height * 4) throw new Error(`image data must be ${img.width}x${img.height}x4 bytes`);
  if (format === "png") return encodePng(m.png, img, trackers.png);
  const quality = opts.quality ?? DEFAULT_QUALITY[format];
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new Error(`${format} quality must be 1-100, got ${quality}`);
  if (format === "webp") return runEncoder(m, "webpEnc", img, { ...webpDefaults, ...FAST_WEBP, quality });
  if (format === "avif") return runEncoder(m, "avifEnc", img, { ...avifDefaults, ...FAST_AVIF, quality });
  return encodeJpeg(m.jpeg, flattenAlpha(img), jpegTurboQuality(quality), trackers.jpegEnc);
}

/** A 1x1 grey JPEG (arithmetic-coded: the start-up check covers that decoding path too). */
const ONE_PIXEL_JPEG = Uint8Array.from(
  atob(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=",
  ),
  (c) => c.charCodeAt(0),
);
