/**
 * libwebp 1.5.0's decoder built to WebAssembly by scripts/wasm/webp/build.sh (src/image/webp-dec.wasm;
 * its C side is scripts/wasm/webp/decode.c). Used through codecs.ts only, for WebP thumbnails: libwebp
 * resamples each row as it decodes it, so a 12 MP WebP decoded at 1/4 never holds its full-size
 * RGBA (jSquash's decoder, which codecs.ts keeps for full-size decodes, has no such option).
 *
 * Every job runs in a fresh instance, dropped with it, and the pixels are copied out: a thumbnail's
 * decode is small, and a decoder that failed on a hostile file is never used again.
 */
import type { ShrinkFactor } from "./jpeg-turbo.ts";
import type { MemoryWatch } from "./wasm-memory.ts";
import type { RgbaImage } from "../shared/image.ts";

interface WebpExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  ll_malloc(bytes: number): number;
  ll_free(ptr: number): void;
  ll_decode(data: number, length: number, n: number): number;
  ll_status(): number;
  ll_width(): number;
  ll_height(): number;
}

/** A decode failure, with what libwebp said. */
export class WebpError extends Error {}

/** libwebp's VP8StatusCode, as a message; 100 is decode.c's own (an animation). */
const STATUS: Record<number, string> = {
  1: "the WebP decoder ran out of memory",
  2: "the WebP file has an invalid parameter",
  3: "the WebP data is corrupt",
  4: "the WebP file uses a feature libwebp does not support",
  5: "the WebP decoder was suspended",
  6: "the WebP decoder was cancelled",
  7: "the WebP data ends before the image does (truncated)",
  100: "the WebP file is an animation",
};

const UNWATCHED: MemoryWatch = { start() {}, end() {} };

function instantiate(compiled: WebAssembly.Module): WebpExports {
  const e = new WebAssembly.Instance(compiled, {
    env: { emscripten_notify_memory_growth: () => {} },
    // The C library links these in; the decoder writes no files and never exits.
    wasi_snapshot_preview1: {
      proc_exit: (code: number): never => {
        throw new WebpError(`the WebP decoder stopped (exit ${code})`);
      },
      fd_write: () => 0,
      fd_close: () => 0,
      fd_seek: () => 0,
    },
  }).exports as unknown as WebpExports;
  e._initialize();
  return e;
}

/** Decode a WebP to RGBA at 1/`n` of its size (rounded up, as libjpeg's scales: jpeg-turbo.ts `scaledSize`). */
export function decodeWebpScaled(compiled: WebAssembly.Module, bytes: Uint8Array, n: ShrinkFactor, watch: MemoryWatch = UNWATCHED): RgbaImage {
  const e = instantiate(compiled);
  watch.start(e.memory);
  try {
    const input = e.ll_malloc(bytes.length);
    if (!input) throw new WebpError(`the WebP decoder ran out of memory for a ${bytes.length}-byte file`);
    new Uint8Array(e.memory.buffer, input, bytes.length).set(bytes);
    const out = e.ll_decode(input, bytes.length, n);
    if (!out) throw new WebpError(STATUS[e.ll_status()] ?? `the WebP decoder failed (status ${e.ll_status()})`);
    const width = e.ll_width(), height = e.ll_height();
    return { width, height, data: new Uint8Array(e.memory.buffer, out, width * height * 4).slice() };
  } finally {
    watch.end(e.memory);
  }
}
