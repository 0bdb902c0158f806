/**
 * libjpeg-turbo 2.1.5 built to WebAssembly by scripts/wasm/jpeg-turbo/build.sh
 * (src/image/jpeg-turbo.wasm; its C side is scripts/wasm/jpeg-turbo/decode.c and encode.c). Used
 * through codecs.ts only. What it adds over jSquash's mozjpeg decoder (the same pixels at full size):
 * shrink-on-load. libjpeg's IDCT can produce the image at 1/2, 1/4 or 1/8 of its size directly, so a
 * thumbnail of a 12 MP photo never holds the 12 MP pixels (`shrinkFactor`).
 *
 * Errors: libjpeg's error exits and warnings (damaged or missing data) call the imported ll_fail,
 * which throws here with libjpeg's own message; the throw unwinds out of the module, whose state
 * is then undefined, so an instance that failed is never used again.
 *
 * Instances that ended their job normally are kept for the next (instance-pool.ts): the encoder's
 * as soon as its output is copied out, a decoder's (which holds the pixels it returned) once the
 * pool is told they are no longer used.
 */
import { InstancePool } from "./instance-pool.ts";
import type { MemoryWatch } from "./wasm-memory.ts";
import type { RgbaImage } from "../shared/image.ts";

interface JpegTurboExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  ll_malloc(bytes: number): number;
  ll_decode(data: number, length: number, denom: number): number;
  ll_width(): number;
  ll_height(): number;
  ll_encode(rgba: number, width: number, height: number, quality: number): number;
  ll_encoded_size(): number;
  ll_free(ptr: number): void;
}

/** Instances kept for the next job (instance-pool.ts); the decoder's hold its pixels until recycled. */
const decoders = new InstancePool<JpegTurboExports>((e) => e.memory);
const encoders = new InstancePool<JpegTurboExports>((e) => e.memory);
/** The module each instance was made from: a pooled instance serves only jobs for the same module. */
const modules = new WeakMap<JpegTurboExports, WebAssembly.Module>();

/** Bytes of the idle instances' memories, per role (codecs.ts's accounting). */
export function jpegPoolBytes(): { decoder: number; encoder: number } {
  return { decoder: decoders.bytes(), encoder: encoders.bytes() };
}

function take(compiled: WebAssembly.Module, pool: InstancePool<JpegTurboExports>): JpegTurboExports {
  const e = pool.take();
  return e && modules.get(e) === compiled ? e : instantiate(compiled);
}

const UNWATCHED: MemoryWatch = { start() {}, end() {} };

/** The DCT scales libjpeg decodes at: 1/1, 1/2, 1/4, 1/8. */
export type ShrinkFactor = 1 | 2 | 4 | 8;

/** A decode failure with libjpeg's message. */
export class JpegError extends Error {}

/**
 * The largest DCT scale 1/n at which a `width` x `height` source region (the part of the photo the
 * output comes from) still has at least `outWidth` x `outHeight` pixels, so the resize only ever
 * shrinks what the decoder made.
 */
export function shrinkFactor(width: number, height: number, outWidth: number, outHeight: number): ShrinkFactor {
  for (const n of [8, 4, 2] as const) {
    if (Math.floor(width / n) >= outWidth && Math.floor(height / n) >= outHeight) return n;
  }
  return 1;
}

/** Size of a `width` x `height` JPEG decoded at 1/n (libjpeg rounds up). */
export function scaledSize(width: number, height: number, n: ShrinkFactor): { width: number; height: number } {
  return { width: Math.ceil(width / n), height: Math.ceil(height / n) };
}

/** A fresh instance, its C library started; libjpeg's failures throw JpegError with its message. */
function instantiate(compiled: WebAssembly.Module): JpegTurboExports {
  let memory: WebAssembly.Memory | undefined;
  const text = (ptr: number): string => {
    const heap = new Uint8Array(memory!.buffer);
    let end = ptr;
    while (end < heap.length && heap[end] !== 0 && end - ptr < 512) end++;
    return new TextDecoder().decode(heap.subarray(ptr, end));
  };
  const imports = {
    env: {
      ll_fail: (ptr: number): never => {
        throw new JpegError(text(ptr));
      },
      emscripten_notify_memory_growth: () => {},
    },
    // The C library's start-up asks for an environment (libjpeg reads JPEGMEM): there is none.
    wasi_snapshot_preview1: {
      environ_sizes_get: (count: number, size: number) => {
        new DataView(memory!.buffer).setUint32(count, 0, true);
        new DataView(memory!.buffer).setUint32(size, 0, true);
        return 0;
      },
      environ_get: () => 0,
      proc_exit: (code: number): never => {
        throw new JpegError(`libjpeg-turbo stopped (exit ${code})`);
      },
      fd_write: () => 0,
      fd_close: () => 0,
      fd_seek: () => 0,
    },
  };
  const e = new WebAssembly.Instance(compiled, imports).exports as unknown as JpegTurboExports;
  memory = e.memory;
  e._initialize();
  modules.set(e, compiled);
  return e;
}

/** `bytes` copied into the instance's heap; its address. */
function pass(e: JpegTurboExports, bytes: Uint8Array): number {
  const ptr = e.ll_malloc(bytes.length);
  if (!ptr) throw new JpegError(`out of memory for ${bytes.length} bytes`);
  new Uint8Array(e.memory.buffer, ptr, bytes.length).set(bytes);
  return ptr;
}

/**
 * Decode a JPEG to RGBA at 1/`n` of its size. The pixels are a view of the instance's memory (one
 * copy of the image, not two).
 */
export function decodeJpeg(compiled: WebAssembly.Module, bytes: Uint8Array, n: ShrinkFactor, watch: MemoryWatch = UNWATCHED): RgbaImage {
  const e = take(compiled, decoders);
  watch.start(e.memory);
  try {
    const input = pass(e, bytes);
    const out = e.ll_decode(input, bytes.length, n);
    const width = e.ll_width(), height = e.ll_height();
    decoders.lend(e, () => (e.ll_free(input), e.ll_free(out)));
    return { width, height, data: new Uint8Array(e.memory.buffer, out, width * height * 4) };
  } finally {
    watch.end(e.memory);
  }
}

/**
 * Encode RGBA (alpha ignored: flatten first) as a baseline 4:2:0 JPEG at `quality` 1-100, with
 * mozjpeg's default quantisation tables and optimised Huffman tables (encode.c).
 */
export function encodeJpeg(compiled: WebAssembly.Module, img: RgbaImage, quality: number, watch: MemoryWatch = UNWATCHED): Uint8Array<ArrayBuffer> {
  const e = take(compiled, encoders);
  watch.start(e.memory);
  let input: number, out: number, bytes: Uint8Array<ArrayBuffer>;
  try {
    input = pass(e, img.data);
    out = e.ll_encode(input, img.width, img.height, Math.round(quality));
    bytes = new Uint8Array(e.memory.buffer, out, e.ll_encoded_size()).slice();
  } finally {
    watch.end(e.memory);
  }
  // Kept once the job is over (not counted twice as running and idle).
  encoders.keep(e, () => (e.ll_free(input), e.ll_free(out)));
  return bytes;
}
