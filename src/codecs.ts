/**
 * PNG and JPEG decoding/encoding with jSquash (Squoosh's WASM codecs). The WASM arrives as precompiled
 * `WebAssembly.Module`s (workerd refuses to compile bytes at run time; Node compiles them once), and
 * each codec is initialised once per isolate/process.
 */
import { init as initPngDecode, decode as pngDecode } from "@jsquash/png/decode.js";
import pngEncode, { init as initPngEncode } from "@jsquash/png/encode.js";
import jpegDecode, { init as initJpegDecode } from "@jsquash/jpeg/decode.js";
import jpegEncode, { init as initJpegEncode } from "@jsquash/jpeg/encode.js";
import { defaultOptions as jpegDefaults } from "@jsquash/jpeg/meta.js";
import { initResize } from "./resize.ts";
import { asBytes, type RgbaImage } from "./image.ts";
import type { ImageFormat } from "./pipeline.ts";

export interface CodecModules {
  png: WebAssembly.Module; // @jsquash/png/codec/pkg/squoosh_png_bg.wasm
  jpegDec: WebAssembly.Module; // @jsquash/jpeg/codec/dec/mozjpeg_dec.wasm
  jpegEnc: WebAssembly.Module; // @jsquash/jpeg/codec/enc/mozjpeg_enc.wasm
  resize: WebAssembly.Module; // @jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm
}

let initialised: Promise<void> | undefined;

/** Initialise every codec and the resampler once (memoised; later calls return the same promise). */
export function initCodecs(modules: CodecModules): Promise<void> {
  initialised ??= (async () => {
    // One after the other: PNG decode and encode share one wasm-bindgen instance, and initialising
    // them concurrently instantiated it twice.
    await initPngDecode(modules.png);
    await initPngEncode(modules.png);
    // jSquash's typings omit the module parameter of the JPEG inits.
    await (initJpegDecode as (m: WebAssembly.Module) => Promise<void>)(modules.jpegDec);
    await (initJpegEncode as (m: WebAssembly.Module) => Promise<void>)(modules.jpegEnc);
    await initResize(modules.resize);
  })();
  initialised.catch(() => (initialised = undefined));
  return initialised;
}

function assertReady(): Promise<void> {
  if (!initialised) throw new Error("codecs used before initCodecs()");
  return initialised;
}

/** The exact ArrayBuffer of a byte view (jSquash reads `.buffer`), copying only when it is a slice. */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/**
 * Decode to 8-bit RGBA. PNGs of every colour type and bit depth come out as RGBA8 (grey expanded,
 * 16-bit reduced to 8 by the decoder). JPEG orientation is NOT applied here (see orient.ts).
 * Throws whatever the decoder throws on corrupt data; the pipeline maps that to 422.
 */
export async function decode(bytes: Uint8Array, format: ImageFormat): Promise<RgbaImage> {
  await assertReady();
  const buf = exactBuffer(bytes);
  const img = format === "png" ? await pngDecode(buf) : await jpegDecode(buf, { preserveOrientation: false });
  const data = asBytes(img.data);
  if (data.length !== img.width * img.height * 4) throw new Error("decoder returned a malformed image");
  return { width: img.width, height: img.height, data };
}

/**
 * JPEG options chosen for latency. jSquash's defaults (progressive, cost ~240 ms at 1024x768 in
 * workerd) spend most of their time on the progressive scans. Measured in Node at 1024x768 q85 on a
 * photo: default 130 ms, sequential 56 ms, sequential with forced 4:2:0 chroma 48 ms (PSNR 41.4 vs
 * 41.6 dB, 4% smaller file). Huffman optimisation stays on: turning it off made mozjpeg slower (its
 * trellis quantisation, which jSquash cannot switch off, then runs without the optimised tables).
 */
export const FAST_JPEG = {
  baseline: false,
  progressive: false,
  optimize_coding: true,
  trellis_multipass: false,
  trellis_opt_zero: false,
  trellis_opt_table: false,
  trellis_loops: 1,
  auto_subsample: false,
  chroma_subsample: 2,
} as const;

/** Composite onto white where alpha < 255 (JPEG has no alpha); returns the input when opaque. */
export function flattenAlpha(img: RgbaImage): RgbaImage {
  const d = img.data;
  let opaque = true;
  for (let i = 3; i < d.length; i += 4) {
    if (d[i] !== 255) {
      opaque = false;
      break;
    }
  }
  if (opaque) return img;
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
  /** JPEG quality 1-100 (ignored for PNG). */
  quality?: number;
}

/** Encode RGBA to PNG (alpha kept) or JPEG (alpha composited onto white). */
export async function encode(img: RgbaImage, format: ImageFormat, opts: EncodeOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  await assertReady();
  if (format === "png") {
    // jSquash's PNG encoder reads `data.buffer` whole, so hand it an exact buffer.
    const data = new Uint8ClampedArray(exactBuffer(img.data));
    return new Uint8Array(await pngEncode({ data, width: img.width, height: img.height, colorSpace: "srgb" } as ImageData));
  }
  const quality = opts.quality ?? 85;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new Error(`JPEG quality must be 1-100, got ${quality}`);
  const flat = flattenAlpha(img);
  const data = new Uint8ClampedArray(flat.data.buffer, flat.data.byteOffset, flat.data.byteLength);
  const out = await jpegEncode({ data, width: img.width, height: img.height, colorSpace: "srgb" } as ImageData, {
    ...jpegDefaults,
    ...FAST_JPEG,
    quality,
    chroma_quality: quality,
  });
  return new Uint8Array(out);
}
