/**
 * The image types every part shares (a leaf: it imports nothing of the project). RgbaImage is the
 * in-memory image every pipeline step passes along: 8-bit RGBA, row-major, no padding.
 */

/** Encoded formats the service reads and writes. */
export type ImageFormat = "png" | "jpeg" | "webp" | "avif";
/** What it reads: those, GIF (its first frame) and HEIC; neither is ever written. */
export type InputFormat = ImageFormat | "gif" | "heic";
/** The media type of each format: responses, stored objects and Accept negotiation use these. */
export const MIME_TYPES: Readonly<Record<ImageFormat, string>> = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp", avif: "image/avif" };
/** The file extension of each format (download names). */
export const EXTENSIONS: Readonly<Record<ImageFormat, string>> = { png: "png", jpeg: "jpg", webp: "webp", avif: "avif" };

/** How w/h bound the output: never enlarge (scale-down), fit inside (contain), fill and crop (cover). */
export type Fit = "scale-down" | "contain" | "cover";

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes. */
  data: Uint8Array;
}

export function makeImage(width: number, height: number, data?: Uint8Array): RgbaImage {
  const d = data ?? new Uint8Array(width * height * 4);
  if (d.length !== width * height * 4) {
    throw new Error(`image data has ${d.length} bytes, expected ${width}x${height}x4 = ${width * height * 4}`);
  }
  return { width, height, data: d };
}

/** True when any pixel is not fully opaque. */
export function hasAlpha(img: RgbaImage): boolean {
  const d = img.data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return true;
  return false;
}

/** View any decoder's pixel array (Uint8ClampedArray, ArrayBuffer) as a Uint8Array without copying. */
export function asBytes(a: ArrayBufferView | ArrayBuffer): Uint8Array {
  if (a instanceof ArrayBuffer) return new Uint8Array(a);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
