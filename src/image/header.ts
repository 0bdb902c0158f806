/**
 * What sniff.ts and heif-header.ts share: the header a source's first bytes give, the big-endian
 * readers, and the errors a header is refused with.
 */
import { HttpError } from "../shared/errors.ts";
import type { InputFormat } from "../shared/image.ts";

/** What a source's header says, before any decoding (sniff.ts's readHeader). */
export interface ImageHeader {
  format: InputFormat;
  width: number;
  height: number;
  /** EXIF orientation 1-8 (JPEG APP1, or AVIF/HEIC irot/imir as the same codes); 1 when absent or invalid. */
  orientation: number;
  /** AVIF, HEIC: the primary item's colr property (an ICC profile, or coded primaries and transfer). */
  heifColour?: { icc: Uint8Array } | { primaries: number; transfer: number };
  /** HEIC: the size of the tiles the image is stored in (the image's own when it is not a grid). */
  heifTile?: { tileWidth: number; tileHeight: number };
  /** The colour was coded lossily, in blocks (JPEG, lossy WebP, AVIF, HEIC): the chroma pass applies (chroma.ts). */
  lossyColour?: true;
}

export const ascii = (b: Uint8Array, o: number, n: number): string => String.fromCharCode(...b.subarray(o, o + n));
export const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);

export function undecodable(what: string): HttpError {
  return new HttpError(422, "undecodable", `the image header is invalid: ${what}`);
}

export function unsupported(message: string): HttpError {
  return new HttpError(415, "unsupported_media_type", message);
}

/** Larger than any decoder here accepts in one dimension; a header above it is refused as corrupt. */
const MAX_SIDE = 1 << 24;

export function checkedSize(what: string, width: number, height: number): void {
  if (width === 0 || height === 0 || width > MAX_SIDE || height > MAX_SIDE) throw undecodable(`${what} declares ${width}x${height} pixels`);
}
