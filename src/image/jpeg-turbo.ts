/**
 * The JPEG decoder: libjpeg-turbo 2.1.5 built to WebAssembly by scripts/wasm/jpeg-turbo/build.sh
 * (src/image/jpeg-turbo.wasm; its C side is scripts/wasm/jpeg-turbo/decode.c). Used through
 * codecs.ts only. What it adds over jSquash's mozjpeg decoder (the same pixels at full size):
 * shrink-on-load. libjpeg's IDCT can produce the image at 1/2, 1/4 or 1/8 of its size directly, so a
 * thumbnail of a 12 MP photo never holds the 12 MP pixels (`shrinkFactor`).
 *
 * Errors: libjpeg's error exits and warnings (damaged or missing data) call the imported ll_fail,
 * which throws here with libjpeg's own message; the throw unwinds out of the module, whose state
 * is then undefined, so every decode gets a fresh instance (instantiating the compiled module takes
 * a fraction of a millisecond), as jSquash's codecs do.
 */
import type { RgbaImage } from "../shared/image.ts";

interface JpegTurboExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  ll_malloc(bytes: number): number;
  ll_decode(data: number, length: number, denom: number): number;
  ll_width(): number;
  ll_height(): number;
}

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

/**
 * Decode a JPEG to RGBA at 1/`n` of its size. The pixels are a view of the instance's memory (one
 * copy of the image, not two); `onMemory` sees that memory when the job starts and when it ends.
 */
export function decodeJpeg(
  compiled: WebAssembly.Module,
  bytes: Uint8Array,
  n: ShrinkFactor,
  onMemory: { start(m: WebAssembly.Memory): void; end(m: WebAssembly.Memory): void } = { start() {}, end() {} },
): RgbaImage {
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
        throw new JpegError(`the JPEG decoder stopped (exit ${code})`);
      },
      fd_write: () => 0,
      fd_close: () => 0,
      fd_seek: () => 0,
    },
  };
  const e = new WebAssembly.Instance(compiled, imports).exports as unknown as JpegTurboExports;
  memory = e.memory;
  onMemory.start(memory);
  try {
    e._initialize();
    const input = e.ll_malloc(bytes.length);
    if (!input) throw new JpegError("out of memory for the JPEG data");
    new Uint8Array(memory.buffer, input, bytes.length).set(bytes);
    const out = e.ll_decode(input, bytes.length, n);
    const width = e.ll_width(), height = e.ll_height();
    return { width, height, data: new Uint8Array(memory.buffer, out, width * height * 4) };
  } finally {
    onMemory.end(memory);
  }
}
