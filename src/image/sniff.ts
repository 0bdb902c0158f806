/**
 * Format and dimensions from the first bytes, without decoding, so oversized images are refused before
 * a decoder allocates anything. JPEG: walks the marker segments to the first SOFn, reading the EXIF
 * orientation from APP1 on the way; every length is bounds-checked.
 */
import { HttpError } from "../shared/errors.ts";
import type { ImageFormat } from "../shared/image.ts";

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation 1-8 (JPEG APP1); 1 when absent or invalid. */
  orientation: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format from magic bytes, or null when it is neither PNG nor JPEG. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return null;
}

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);

function undecodable(what: string): HttpError {
  return new HttpError(422, "undecodable", `the image header is invalid: ${what}`);
}

/**
 * Read format, dimensions and orientation from the header.
 * Throws HttpError 415 for anything but PNG/JPEG, 422 for a truncated or corrupt header.
 */
export function readHeader(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (format === null) {
    throw new HttpError(415, "unsupported_media_type", "the source is not a supported image: PNG and JPEG are allowed");
  }
  return format === "png" ? readPng(bytes) : readJpeg(bytes);
}

function readPng(b: Uint8Array): ImageHeader {
  // Signature, then the IHDR chunk must come first: length 13, "IHDR", width, height.
  if (b.length < 8 + 8 + 13) throw undecodable("PNG is truncated before the end of IHDR");
  if (u32(b, 8) !== 13 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== "IHDR") {
    throw undecodable("PNG does not start with an IHDR chunk");
  }
  const width = u32(b, 16);
  const height = u32(b, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw undecodable(`PNG declares ${width}x${height} pixels`);
  }
  return { format: "png", width, height, orientation: 1 };
}

function isSof(m: number): boolean {
  // C0-CF are SOFn except C4 (DHT), C8 (JPG extension) and CC (DAC).
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function readJpeg(b: Uint8Array): ImageHeader {
  let pos = 2; // after SOI
  let orientation = 1;
  for (;;) {
    // A marker is 0xFF (possibly repeated as fill) then a non-0xFF, non-zero code.
    if (pos >= b.length) throw undecodable("JPEG ends before its frame header (SOF)");
    if (b[pos] !== 0xff) throw undecodable(`JPEG has no marker at byte ${pos}`);
    while (pos < b.length && b[pos] === 0xff) pos++;
    if (pos >= b.length) throw undecodable("JPEG ends before its frame header (SOF)");
    const marker = b[pos]!;
    pos++;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // TEM, RSTn: no length
    if (marker === 0xd9 || marker === 0xda || marker === 0x00) {
      throw undecodable("JPEG has no frame header (SOF) before its image data");
    }
    if (pos + 2 > b.length) throw undecodable("JPEG segment length is truncated");
    const len = u16(b, pos);
    if (len < 2) throw undecodable(`JPEG segment length ${len} is invalid`);
    const start = pos + 2;
    const end = pos + len;
    if (end > b.length) throw undecodable("JPEG segment runs past the end of the data");
    if (isSof(marker)) {
      if (len < 8) throw undecodable("JPEG frame header is too short");
      const height = u16(b, start + 1);
      const width = u16(b, start + 3);
      // Height 0 means "defined later by a DNL marker", which the decoder does not support.
      if (width === 0 || height === 0) throw undecodable(`JPEG declares ${width}x${height} pixels`);
      return { format: "jpeg", width, height, orientation };
    }
    if (marker === 0xe1 && orientation === 1) orientation = exifOrientation(b.subarray(start, end));
    pos = end;
  }
}

/** Orientation tag (0x0112) of IFD0 in an APP1 payload ("Exif\0\0" + TIFF); 1 when absent or invalid. */
export function exifOrientation(app1: Uint8Array): number {
  const EXIF = [0x45, 0x78, 0x69, 0x66, 0, 0];
  if (app1.length < 6 + 8 || !EXIF.every((c, i) => app1[i] === c)) return 1;
  const t = app1.subarray(6);
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return 1;
  const r16 = (o: number): number => (little ? t[o]! | (t[o + 1]! << 8) : u16(t, o));
  const r32 = (o: number): number => (little ? (t[o]! | (t[o + 1]! << 8) | (t[o + 2]! << 16)) + t[o + 3]! * 2 ** 24 : u32(t, o));
  if (r16(2) !== 42) return 1;
  const ifd = r32(4);
  if (ifd + 2 > t.length) return 1;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return 1;
    if (r16(e) !== 0x0112) continue;
    if (r16(e + 2) !== 3) return 1; // must be SHORT
    const v = r16(e + 8);
    return v >= 1 && v <= 8 ? v : 1;
  }
  return 1;
}
