/**
 * HEIC (HEVC in HEIF: iPhone and most Android originals) through libheif 1.23 and libde265, as
 * built to WebAssembly by the libheif-js package (its `libheif-wasm` build, unmodified; LGPL-3.0:
 * docs/licences.md says how this project complies). Used through codecs.ts only.
 *
 * Memory: libheif decodes a whole image into one buffer, and a 12 MP photo that way needs about
 * 150 MB, over the isolate's 128. But phones store their photos as grids of small tiles (iPhone:
 * 512x512), and libheif decodes one tile at a time (`heif_image_handle_decode_image_tile`). So the
 * image is made tile by tile into a JS buffer, each tile averaged over s x s blocks on the way
 * (shrink-on-load, as JPEG's DCT scaling: `heifShrinkFactor`), and the decoder's heap only ever holds
 * the file and one tile. An image that is not a grid is one tile: at most MAX_HEIF_TILE_PIXELS.
 *
 * The glue (libheif.js) is Emscripten's with embind: the C API is called directly (its functions
 * return `struct heif_error` through a pointer as their first argument). Every job gets a fresh
 * instance; its memory starts at 16 MB.
 */
import type { RgbaImage } from "../shared/image.ts";
import type { ShrinkFactor } from "./jpeg-turbo.ts";
import { findMemory, type MemoryWatch } from "./wasm-memory.ts";

/** The largest tile (or non-grid image) decoded: libheif holds it whole, as RGBA and as YCbCr planes. */
export const MAX_HEIF_TILE_PIXELS = 4 * 1024 * 1024;

/** A decode failure with libheif's message. */
export class HeifError extends Error {}

/** The parts of the Emscripten module this file uses. */
interface LibHeif {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _heif_context_alloc(): number;
  _heif_context_free(ctx: number): void;
  _heif_context_read_from_memory_without_copy(err: number, ctx: number, data: number, size: number, options: number): void;
  _heif_context_get_primary_image_handle(err: number, ctx: number, out: number): void;
  _heif_image_handle_get_image_tiling(err: number, handle: number, transformations: number, out: number): void;
  _heif_image_handle_decode_image_tile(err: number, handle: number, out: number, colorspace: number, chroma: number, options: number, x: number, y: number): void;
  _heif_image_handle_release(handle: number): void;
  _heif_image_get_width(img: number, channel: number): number;
  _heif_image_get_height(img: number, channel: number): number;
  _heif_image_get_plane_readonly2(img: number, channel: number, stride: number): number;
  _heif_image_release(img: number): void;
  _heif_decoding_options_alloc(): number;
  _heif_decoding_options_free(options: number): void;
}

/** The Emscripten factory of libheif-js/libheif-wasm/libheif.js. */
export type LibHeifFactory = (options: object) => unknown;

const RGB = 1; // heif_colorspace_RGB
const RGBA = 11; // heif_chroma_interleaved_RGBA
const INTERLEAVED = 10; // heif_channel_interleaved

/** The tile size of the primary image, as the header gives it (heif-header.ts). */
export interface HeifLayout {
  tileWidth: number;
  tileHeight: number;
}

/**
 * The largest scale 1/n at which a `width` x `height` region still has `outWidth` x `outHeight`
 * pixels and n divides the tiles (so every n x n block lies in one tile).
 */
export function heifShrinkFactor(width: number, height: number, outWidth: number, outHeight: number, tile: HeifLayout): ShrinkFactor {
  for (const n of [8, 4, 2] as const) {
    if (tile.tileWidth % n !== 0 || tile.tileHeight % n !== 0) continue;
    if (Math.floor(width / n) >= outWidth && Math.floor(height / n) >= outHeight) return n;
  }
  return 1;
}

/** A fresh libheif instance from the compiled module. */
function instantiate(factory: LibHeifFactory, compiled: WebAssembly.Module): { heif: LibHeif; memory: () => WebAssembly.Memory | undefined } {
  let memory: WebAssembly.Memory | undefined;
  const heif = factory({
    instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void): WebAssembly.Exports {
      const instance = new WebAssembly.Instance(compiled, imports);
      memory = findMemory(instance.exports, imports);
      done(instance);
      return instance.exports;
    },
    // Its messages go nowhere: failures come back as heif_error values.
    print: () => {},
    printErr: () => {},
  }) as LibHeif;
  return { heif, memory: () => memory };
}

/**
 * Decode the primary image of a HEIC to RGBA at 1/`n` of its size, tile by tile, as stored (its
 * irot/imir are the caller's: sniff.ts maps them to an orientation). Throws HeifError with
 * libheif's message on anything it cannot decode.
 */
export function decodeHeif(factory: LibHeifFactory, compiled: WebAssembly.Module, bytes: Uint8Array, n: ShrinkFactor, watch?: MemoryWatch): RgbaImage {
  const { heif: h, memory } = instantiate(factory, compiled);
  const mem = memory();
  if (mem) watch?.start(mem);
  try {
    return decodeWith(h, bytes, n);
  } finally {
    if (mem) watch?.end(mem);
  }
}

function decodeWith(h: LibHeif, bytes: Uint8Array, n: ShrinkFactor): RgbaImage {
  const err = h._malloc(16), out = h._malloc(8), tiling = h._malloc(64);
  const check = (what: string): void => {
    const code = h.HEAPU32[err >> 2]!;
    if (code === 0) return;
    const at = h.HEAPU32[(err + 8) >> 2]!;
    let end = at;
    while (end < h.HEAPU8.length && h.HEAPU8[end] !== 0 && end - at < 256) end++;
    const message = at ? new TextDecoder().decode(h.HEAPU8.subarray(at, end)) : `error ${code}`;
    throw new HeifError(`${what}: ${message}`);
  };
  const data = h._malloc(bytes.length);
  if (!data) throw new HeifError(`out of memory for the ${bytes.length}-byte file`);
  h.HEAPU8.set(bytes, data);
  const ctx = h._heif_context_alloc();
  let handle = 0;
  const options = h._heif_decoding_options_alloc();
  try {
    h._heif_context_read_from_memory_without_copy(err, ctx, data, bytes.length, 0);
    check("the HEIC could not be read");
    h._heif_context_get_primary_image_handle(err, ctx, out);
    check("the HEIC has no primary image");
    handle = h.HEAPU32[out >> 2]!;
    h.HEAPU8.fill(0, tiling, tiling + 64);
    h._heif_image_handle_get_image_tiling(err, handle, 0, tiling);
    check("the HEIC's tiles could not be read");
    const [columns, rows, tileW, tileH, width, height] = Array.from({ length: 6 }, (_, i) => h.HEAPU32[(tiling >> 2) + 1 + i]!);
    if (!columns || !rows || !tileW || !tileH || !width || !height) throw new HeifError("the HEIC's image has no size");
    if (columns * tileW < width || rows * tileH < height) {
      throw new HeifError(`the HEIC's ${columns}x${rows} tiles of ${tileW}x${tileH} pixels do not cover its ${width}x${height} image`);
    }
    if (tileW * tileH > MAX_HEIF_TILE_PIXELS) {
      throw new HeifError(`the HEIC's image is stored in pieces of ${tileW}x${tileH} pixels; the largest this service decodes is ${MAX_HEIF_TILE_PIXELS} pixels`);
    }
    if (tileW % n !== 0 || tileH % n !== 0) throw new Error(`HEIC tiles of ${tileW}x${tileH} cannot be reduced 1/${n}`);
    // libheif sets ignore_transformations through this byte (version 1 of the options struct).
    h.HEAPU8[options + 1] = 1;
    const W = Math.ceil(width / n), H = Math.ceil(height / n);
    const pixels = new Uint8Array(W * H * 4);
    for (let ty = 0; ty < rows; ty++) {
      for (let tx = 0; tx < columns; tx++) {
        if (tx * tileW >= width || ty * tileH >= height) continue;
        h._heif_image_handle_decode_image_tile(err, handle, out, RGB, RGBA, options, tx, ty);
        check(`tile ${tx},${ty} of the HEIC could not be decoded`);
        const img = h.HEAPU32[out >> 2]!;
        try {
          const plane = h._heif_image_get_plane_readonly2(img, INTERLEAVED, out + 4);
          const stride = h.HEAPU32[(out + 4) >> 2]!;
          const w = Math.min(h._heif_image_get_width(img, INTERLEAVED), width - tx * tileW);
          const hh = Math.min(h._heif_image_get_height(img, INTERLEAVED), height - ty * tileH);
          if (!plane || w <= 0 || hh <= 0) throw new HeifError(`tile ${tx},${ty} of the HEIC decoded to nothing`);
          place(h.HEAPU8, plane, stride, w, hh, pixels, W, (tx * tileW) / n, (ty * tileH) / n, n);
        } finally {
          h._heif_image_release(img);
        }
      }
    }
    return { width: W, height: H, data: pixels };
  } finally {
    h._heif_decoding_options_free(options);
    if (handle) h._heif_image_handle_release(handle);
    h._heif_context_free(ctx);
  }
}

/**
 * A decoded tile (w x h RGBA at `plane` in heap, rows `stride` bytes apart) into `out` (W wide) at
 * (x0, y0), averaged over n x n blocks (partial ones at the image's edge over what they hold).
 */
function place(heap: Uint8Array, plane: number, stride: number, w: number, h: number, out: Uint8Array, W: number, x0: number, y0: number, n: number): void {
  if (n === 1) {
    for (let y = 0; y < h; y++) out.set(heap.subarray(plane + y * stride, plane + y * stride + w * 4), ((y0 + y) * W + x0) * 4);
    return;
  }
  const bw = Math.ceil(w / n), bh = Math.ceil(h / n);
  const sums = new Uint32Array(bw * 4);
  for (let by = 0; by < bh; by++) {
    sums.fill(0);
    const ys = by * n, ye = Math.min(h, ys + n);
    for (let y = ys; y < ye; y++) {
      let p = plane + y * stride;
      for (let x = 0; x < w; x++, p += 4) {
        const k = ((x / n) | 0) * 4;
        sums[k] = sums[k]! + heap[p]!;
        sums[k + 1] = sums[k + 1]! + heap[p + 1]!;
        sums[k + 2] = sums[k + 2]! + heap[p + 2]!;
        sums[k + 3] = sums[k + 3]! + heap[p + 3]!;
      }
    }
    const rowsIn = ye - ys;
    let o = ((y0 + by) * W + x0) * 4;
    for (let bx = 0; bx < bw; bx++, o += 4) {
      const count = rowsIn * (Math.min(w, (bx + 1) * n) - bx * n);
      const half = count >> 1;
      for (let c = 0; c < 4; c++) out[o + c] = ((sums[bx * 4 + c]! + half) / count) | 0;
    }
  }
}
