/**
 * Format and dimensions from the first bytes, without decoding, so oversized images are refused before
 * a decoder allocates anything. Every length is bounds-checked.
 * - JPEG: walks the marker segments to the first SOFn, reading the EXIF orientation from APP1 on the way.
 * - PNG: the IHDR chunk.
 * - WebP: the RIFF header, then the VP8 (lossy) key frame header, the VP8L (lossless) header, or the
 *   VP8X (extended) canvas size; animated WebP is refused (415).
 * - AVIF and HEIC (both HEIF): their ISO-BMFF boxes, read by heif-header.ts.
 */
import { HttpError } from "../shared/errors.ts";
import type { InputFormat } from "../shared/image.ts";
import { ascii, checkedSize, u16, u32, undecodable, unsupported, type ImageHeader } from "./header.ts";
import { readHeif } from "./heif-header.ts";

export type { ImageHeader } from "./header.ts";

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** What the service reads, for error messages. */
export const ACCEPTED_INPUTS = "PNG, JPEG, WebP, AVIF, HEIC and GIF";

/** The format from magic bytes, or null when it is none of PNG, JPEG, WebP, AVIF, HEIC, GIF. */
export function sniffFormat(bytes: Uint8Array): InputFormat | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") return "webp";
  if (bytes.length >= 12 && ascii(bytes, 4, 4) === "ftyp" && isAvifBrand(bytes)) return "avif";
  if (bytes.length >= 12 && ascii(bytes, 4, 4) === "ftyp" && heicBrands(bytes)) return "heic";
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a")) return "gif";
  return null;
}

/** ftyp's major or a compatible brand is avif or avis (the box length bounds the brand list). */
function isAvifBrand(b: Uint8Array): boolean {
  const major = ascii(b, 8, 4);
  if (major === "avif" || major === "avis") return true; // even when the file is cut right after it
  const size = Math.min(u32(b, 0), b.length);
  const brands: string[] = [];
  for (let o = 16; o + 4 <= size; o += 4) brands.push(ascii(b, o, 4));
  return brands.includes("avif") || brands.includes("avis");
}

/** HEVC-coded HEIF: ftyp's major or a compatible brand is one of HEIC's (images or sequences). */
const HEIC_BRANDS = ["heic", "heix", "heim", "heis", "hevc", "hevx"];

function heicBrands(b: Uint8Array): boolean {
  if (HEIC_BRANDS.includes(ascii(b, 8, 4))) return true;
  const size = Math.min(u32(b, 0), b.length);
  for (let o = 16; o + 4 <= size; o += 4) if (HEIC_BRANDS.includes(ascii(b, o, 4))) return true;
  return false;
}

/** What other common formats look like, so a 415 can say what it got. */
function otherFormat(b: Uint8Array): string | null {
  if (ascii(b, 0, 4) === "GIF8") return "a GIF of an unknown version";
  if (ascii(b, 4, 4) === "ftyp") return `an ISO-BMFF file of brand "${ascii(b, 8, 4).replace(/[^\x20-\x7e]/g, "?")}" (neither AVIF nor HEIC)`;
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 42)) return "TIFF";
  if (b[0] === 0x42 && b[1] === 0x4d) return "BMP";
  if (/^\s*(<\?xml|<svg)/i.test(ascii(b, 0, 64))) return "SVG";
  return null;
}

/**
 * Read format, dimensions and orientation from the header.
 * Throws HttpError 415 for anything but ACCEPTED_INPUTS, 422 for a truncated or corrupt header.
 */
export function readHeader(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (format === null) {
    const other = otherFormat(bytes);
    throw new HttpError(415, "unsupported_media_type", `the source is ${other ? other : "not a supported image"}: ${ACCEPTED_INPUTS} are allowed`);
  }
  if (format === "png") return readPng(bytes);
  if (format === "jpeg") return readJpeg(bytes);
  if (format === "gif") return readGif(bytes);
  return format === "webp" ? readWebp(bytes) : readHeif(bytes, format === "avif" ? "AVIF" : "HEIC");
}

/** GIF: the logical screen's size (every frame is drawn inside it). */
function readGif(b: Uint8Array): ImageHeader {
  if (b.length < 13) throw undecodable("GIF is truncated before its screen descriptor");
  const width = le16(b, 6);
  const height = le16(b, 8);
  checkedSize("GIF", width, height);
  return { format: "gif", width, height, orientation: 1 };
}

const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const le24 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16);
const le32 = (b: Uint8Array, o: number): number => le24(b, o) + b[o + 3]! * 2 ** 24;

function readWebp(b: Uint8Array): ImageHeader {
  // RIFF size counts from byte 8; a file may be shorter only if truncated, and never claims less than a chunk.
  const riff = le32(b, 4);
  if (riff < 4 + 8 || riff % 2 !== 0) throw undecodable(`WebP RIFF size ${riff} is invalid`);
  if (b.length < 20) throw undecodable("WebP is truncated before its first chunk");
  const end = Math.min(b.length, 8 + riff);
  const fourcc = ascii(b, 12, 4);
  const size = le32(b, 16);
  const data = 20;
  if (size === 0) throw undecodable(`WebP ${fourcc.trim()} chunk is empty`);
  if (data + size > 8 + riff) throw undecodable(`WebP ${fourcc.trim()} chunk runs past the RIFF size`);
  const need = (n: number): void => {
    if (size < n || data + n > end) throw undecodable(`WebP ${fourcc.trim()} header is truncated`);
  };
  let width: number;
  let height: number;
  if (fourcc === "VP8 ") {
    need(10);
    if ((b[data]! & 1) !== 0) throw undecodable("WebP VP8 data does not start with a key frame");
    if (b[data + 3] !== 0x9d || b[data + 4] !== 0x01 || b[data + 5] !== 0x2a) throw undecodable("WebP VP8 start code is missing");
    width = le16(b, data + 6) & 0x3fff;
    height = le16(b, data + 8) & 0x3fff;
  } else if (fourcc === "VP8L") {
    need(5);
    if (b[data] !== 0x2f) throw undecodable("WebP VP8L signature is missing");
    const bits = le32(b, data + 1);
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (fourcc === "VP8X") {
    need(10);
    const flags = b[data]!;
    if ((flags & 0x02) !== 0) throw unsupported("animated WebP is not supported: send a still image (PNG, JPEG, WebP or AVIF)");
    width = le24(b, data + 4) + 1;
    height = le24(b, data + 7) + 1;
  } else {
    throw undecodable(`WebP starts with a "${fourcc.replace(/[^\x20-\x7e]/g, "?")}" chunk, not VP8, VP8L or VP8X`);
  }
  checkedSize("WebP", width, height);
  const lossy = fourcc === "VP8 " || (fourcc === "VP8X" && webpHasLossyChunk(b, data + size + (size & 1), end));
  return { format: "webp", width, height, orientation: 1, ...(lossy ? { lossyColour: true as const } : {}) };
}

/** Whether an extended WebP's chunks from `o` on hold lossy image data ("VP8 ", not "VP8L"). */
function webpHasLossyChunk(b: Uint8Array, o: number, end: number): boolean {
  // Bounded by the chunk count a file of this size can hold; a zero-size chunk still advances 8 bytes.
  while (o + 8 <= end) {
    const fourcc = ascii(b, o, 4);
    if (fourcc === "VP8 ") return true;
    if (fourcc === "VP8L") return false;
    const size = le32(b, o + 4);
    o += 8 + size + (size & 1);
  }
  return false;
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
      // Four components: CMYK (or YCCK), a print colour space whose conversion needs its profile.
      if (b[start + 5] === 4) {
        throw new HttpError(422, "undecodable", "the JPEG is CMYK (a print colour space), which this service does not convert: save it as RGB");
      }
      return { format: "jpeg", width, height, orientation, lossyColour: true };
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
