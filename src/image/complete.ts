/**
 * Whether an image's bytes are all there: a source cut off mid-transfer decodes to a picture with a
 * grey or missing lower part (libjpeg only warns "premature end of data"), which must never be served
 * or cached as if it were the photo. Checked from the file's own structure before decoding: a JPEG
 * must reach its end-of-image marker, a PNG its IEND chunk, a GIF its trailer, a WebP the length its
 * RIFF header declares, an AVIF the end of every top-level box (sniff.ts checks the boxes).
 */
import { HttpError } from "../shared/errors.ts";
import type { InputFormat } from "../shared/image.ts";
import { u32 } from "./header.ts";

function truncated(what: string): HttpError {
  return new HttpError(422, "undecodable", `the ${what} is truncated (a download cut off?): the image is not complete, so it is not served`);
}


/** Throws 422 when `bytes`, sniffed as `format` and with a valid header, ends before the image does. */
export function checkComplete(bytes: Uint8Array, format: InputFormat): void {
  if (format === "gif") gifComplete(bytes);
  else if (format === "jpeg") jpegComplete(bytes);
  else if (format === "png") pngComplete(bytes);
  else if (format === "webp") webpComplete(bytes);
}

function jpegComplete(b: Uint8Array): void {
  const n = b.length;
  let pos = 2; // after SOI
  for (;;) {
    if (pos >= n) throw truncated("JPEG: it ends before its end-of-image marker");
    if (b[pos] !== 0xff) throw new HttpError(422, "undecodable", `the JPEG has no marker at byte ${pos}`);
    while (pos < n && b[pos] === 0xff) pos++; // fill bytes
    if (pos >= n) throw truncated("JPEG: it ends before its end-of-image marker");
    const marker = b[pos++]!;
    if (marker === 0xd9) return; // EOI: everything before it is there
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (pos + 2 > n) throw truncated("JPEG: a segment's length is cut off");
    const end = pos + ((b[pos]! << 8) | b[pos + 1]!);
    if (end > n) throw truncated("JPEG: a segment runs past the end of the data");
    pos = end;
    if (marker !== 0xda) continue;
    // Entropy-coded data after SOS runs to the next marker: 0xFF00 is a stuffed byte, 0xFFD0-D7 a
    // restart, repeated 0xFF fill.
    for (;;) {
      while (pos < n && b[pos] !== 0xff) pos++;
      if (pos + 1 >= n) throw truncated("JPEG: its image data stops before the end-of-image marker");
      const next = b[pos + 1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) pos += 2;
      else if (next === 0xff) pos += 1;
      else break;
    }
  }
}

function pngComplete(b: Uint8Array): void {
  let pos = 8;
  while (pos + 8 <= b.length) {
    const length = u32(b, pos);
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    const end = pos + 12 + length;
    if (end > b.length) throw truncated(`PNG: its ${type.replace(/[^\x20-\x7e]/g, "?")} chunk runs past the end of the data`);
    if (type === "IEND") return;
    pos = end;
  }
  throw truncated("PNG: it ends before its IEND chunk");
}

function webpComplete(b: Uint8Array): void {
  const riff = (b[4]! | (b[5]! << 8) | (b[6]! << 16)) + b[7]! * 2 ** 24;
  if (b.length < 8 + riff) throw truncated(`WebP: its RIFF header declares ${8 + riff} bytes, ${b.length} arrived`);
}

/** GIF blocks after the header: extensions and images are runs of sub-blocks ending in an empty one; 0x3B ends the file. */
function gifComplete(b: Uint8Array): void {
  const n = b.length;
  const table = (flags: number) => ((flags & 0x80) !== 0 ? 3 * (1 << ((flags & 7) + 1)) : 0);
  let pos = 13 + table(b[10]!);
  const subBlocks = (what: string): void => {
    for (;;) {
      if (pos >= n) throw truncated(`GIF: its ${what} stops before its end`);
      const size = b[pos++]!;
      if (size === 0) return;
      pos += size;
    }
  };
  for (;;) {
    if (pos >= n) throw truncated("GIF: it ends before its trailer");
    const block = b[pos++]!;
    if (block === 0x3b) return;
    if (block === 0x21) {
      pos++; // the extension's label
      subBlocks("extension");
    } else if (block === 0x2c) {
      if (pos + 9 > n) throw truncated("GIF: an image descriptor is cut off");
      pos += 9 + table(b[pos + 8]!) + 1; // descriptor, local colour table, LZW minimum code size
      subBlocks("image data");
    } else {
      throw new HttpError(422, "undecodable", `the GIF has an unknown block 0x${block.toString(16)} at byte ${pos - 1}`);
    }
  }
}
