/**
 * WebP and AVIF fixtures, made here from a photo-like scene with jSquash's own encoders at options the
 * service never uses itself (lossless, alpha, 10/12-bit), plus hand-made variants of real files:
 * animated, lying sizes, empty chunks, huge declared dimensions. The same files feed the unit and the
 * Worker tests.
 */
import { GifWriter } from "omggif";
import { readFile } from "node:fs/promises";
import webpEncode, { init as initWebpEncode } from "@jsquash/webp/encode.js";
import avifEncode, { init as initAvifEncode } from "@jsquash/avif/encode.js";
import { CODEC_WASM } from "../../scripts/lib/node-engine.ts";
import { makeImage, type RgbaImage } from "../../src/shared/image.ts";

let ready: Promise<void> | undefined;
function init(): Promise<void> {
  ready ??= (async () => {
    await initWebpEncode(await WebAssembly.compile(await readFile(CODEC_WASM.webpEnc)));
    await initAvifEncode(await WebAssembly.compile(await readFile(CODEC_WASM.avifEnc)));
  })();
  return ready;
}

/** A dim scene with edges, gradients and colour; `alpha`: a transparent left third and a soft edge. */
export function scene(width: number, height: number, alpha = false): RgbaImage {
  const img = makeImage(width, height);
  const d = img.data;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      const v = 20 + ((x * 3 + y * 5) % 60) + (((x >> 4) + (y >> 4)) % 2) * 30;
      d[i] = v;
      d[i + 1] = Math.round(v * 0.8);
      d[i + 2] = Math.round(v * 0.6 + (y % 16));
      d[i + 3] = alpha ? (x < width / 3 ? 0 : Math.min(255, Math.round(((x - width / 3) / (width / 6)) * 255))) : 255;
    }
  }
  return img;
}

const asImageData = (img: RgbaImage) => ({ data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength), width: img.width, height: img.height, colorSpace: "srgb" }) as ImageData;

export async function webp(img: RgbaImage, opts: { lossless?: boolean; quality?: number } = {}): Promise<Uint8Array> {
  await init();
  return new Uint8Array(await webpEncode(asImageData(img), { lossless: opts.lossless ? 1 : 0, quality: opts.quality ?? 90, exact: 1 }));
}

export async function avif(img: RgbaImage, opts: { lossless?: boolean; quality?: number; bitDepth?: 8 | 10 | 12 } = {}): Promise<Uint8Array> {
  await init();
  const bitDepth = opts.bitDepth ?? 8;
  const lossless = opts.lossless ?? false;
  const options = { lossless, quality: lossless ? 100 : (opts.quality ?? 90), speed: 10 };
  if (bitDepth === 8) return new Uint8Array(await avifEncode(asImageData(img), { ...options, bitDepth }));
  // Deeper sources: each 8-bit value v becomes v * (2^depth - 1) / 255, as a camera's 10/12-bit file would hold it.
  const max = 2 ** bitDepth - 1;
  const deep = Uint16Array.from(img.data, (v) => Math.round((v * max) / 255));
  return new Uint8Array(await avifEncode({ data: deep, width: img.width, height: img.height }, { ...options, bitDepth }));
}

const le32 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const le24 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255];
const chunk = (fourcc: string, payload: ArrayLike<number>): number[] => {
  const out = [...fourcc].map((c) => c.charCodeAt(0)).concat(le32(payload.length), Array.from(payload));
  if (payload.length % 2) out.push(0);
  return out;
};
const riff = (chunks: number[]): Uint8Array => new Uint8Array([...[..."RIFF"].map((c) => c.charCodeAt(0)), ...le32(4 + chunks.length), ...[..."WEBP"].map((c) => c.charCodeAt(0)), ...chunks]);

/** The first chunk's payload of a simple (VP8 or VP8L) WebP, and its fourcc. */
function firstChunk(file: Uint8Array): { fourcc: string; payload: Uint8Array } {
  const size = file[16]! | (file[17]! << 8) | (file[18]! << 16) | (file[19]! << 24);
  return { fourcc: String.fromCharCode(...file.subarray(12, 16)), payload: file.subarray(20, 20 + size) };
}

/** An animated WebP (VP8X + ANIM + two ANMF frames) made of a real frame's bitstream. */
export function animatedWebp(still: Uint8Array, width: number, height: number): Uint8Array {
  const frame = firstChunk(still);
  const anmf = (x: number) => chunk("ANMF", [...le24(x), ...le24(0), ...le24(width - 1), ...le24(height - 1), ...le24(100), 0, ...chunk(frame.fourcc, frame.payload)]);
  const vp8x = chunk("VP8X", [0x02, 0, 0, 0, ...le24(width - 1), ...le24(height - 1)]);
  return riff([...vp8x, ...chunk("ANIM", [0, 0, 0, 0, 0, 0]), ...anmf(0), ...anmf(0)]);
}

/** An extended WebP whose VP8X canvas claims width x height around a real (small) frame. */
export function webpDeclaring(still: Uint8Array, width: number, height: number): Uint8Array {
  const frame = firstChunk(still);
  return riff([...chunk("VP8X", [0, 0, 0, 0, ...le24(width - 1), ...le24(height - 1)]), ...chunk(frame.fourcc, frame.payload)]);
}

/** A copy of `file` with its RIFF size (bytes 4-7) set to `size`. */
export function webpRiffSize(file: Uint8Array, size: number): Uint8Array {
  const out = file.slice();
  out.set(le32(size), 4);
  return out;
}

/** A WebP whose first chunk is empty. */
export function webpEmptyChunk(fourcc: "VP8 " | "VP8L" | "VP8X"): Uint8Array {
  return riff(chunk(fourcc, []));
}

/** Offset of the first `type` box's payload in an ISO-BMFF file (a flat scan is enough for our own files). */
function findBox(file: Uint8Array, type: string): number {
  for (let i = 4; i + 4 <= file.length; i++) {
    if (String.fromCharCode(file[i]!, file[i + 1]!, file[i + 2]!, file[i + 3]!) === type) return i + 4;
  }
  throw new Error(`no ${type} box`);
}

/** A real AVIF whose primary item's ispe claims width x height (the payload stays small). */
export function avifDeclaring(file: Uint8Array, width: number, height: number): Uint8Array {
  const out = file.slice();
  const p = findBox(out, "ispe") + 4; // FullBox version/flags
  const view = new DataView(out.buffer);
  view.setUint32(p, width);
  view.setUint32(p + 4, height);
  return out;
}

/** A real AVIF relabelled as an image sequence: ftyp's brands avis/msf1 and no avif. */
export function avifAsSequence(file: Uint8Array): Uint8Array {
  const out = file.slice();
  const ftyp = findBox(out, "ftyp");
  const size = new DataView(out.buffer).getUint32(ftyp - 8);
  for (let o = ftyp; o + 4 <= ftyp - 8 + size; o += 4) {
    if (o === ftyp + 4) continue; // minor version
    const brand = String.fromCharCode(...out.subarray(o, o + 4));
    if (brand === "avif") out.set([..."avis"].map((c) => c.charCodeAt(0)), o);
  }
  return out;
}

/** Magic bytes of formats the service does not decode (SVG is passed through by the HTTP layer, not decoded). */
export const OTHER_FORMATS: Record<string, Uint8Array> = {
  'brand "crx "': new Uint8Array([0, 0, 0, 24, ...new TextEncoder().encode("ftypcrx "), 0, 0, 0, 1, ...new TextEncoder().encode("crx isom")]),
  TIFF: new Uint8Array([0x49, 0x49, 42, 0, 8, 0, 0, 0, 0, 0]),
  SVG: new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
  BMP: new Uint8Array([0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0]),
};

/** The palette of the test GIFs. */
export const GIF_PALETTE = [0x000000, 0x102030, 0x405060, 0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x808080];

/** A GIF of `frames` frames of w x h, frame k's pixel (x, y) = palette index f(k, x, y). */
export function gif(w: number, h: number, frames: number, f: (k: number, x: number, y: number) => number, transparent?: number): Uint8Array {
  const buf = new Uint8Array(1024 + w * h * frames * 2);
  const writer = new GifWriter(buf, w, h, { palette: GIF_PALETTE, loop: frames > 1 ? 0 : undefined });
  for (let k = 0; k < frames; k++) {
    const idx = Array.from({ length: w * h }, (_, i) => f(k, i % w, Math.floor(i / w)));
    writer.addFrame(0, 0, w, h, idx, { delay: 10, ...(transparent !== undefined ? { transparent } : {}) });
  }
  return buf.slice(0, writer.end());
}
