/**
 * BMP decoding for training data (jSquash has no BMP codec and datasets such as LIME/MEF ship BMPs):
 * uncompressed 1/4/8-bit palette, 16/24/32-bit (BI_RGB and BI_BITFIELDS), bottom-up or top-down.
 * RLE and embedded JPEG/PNG are refused with a clear error. Every offset is bounds-checked.
 */
import type { RgbaImage } from "../../src/shared/image.ts";

const MAX_PIXELS = 100_000_000;

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d; // "BM"
}

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(bytes: Uint8Array): RgbaImage {
  const fail = (what: string): never => {
    throw new Error(`unsupported or corrupt BMP: ${what}`);
  };
  if (!isBmp(bytes) || bytes.length < 26) fail("missing BM header");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = v.getUint32(10, true);
  const headerSize = v.getUint32(14, true);
  if (headerSize < 40 || 14 + headerSize > bytes.length) fail(`info header of ${headerSize} bytes (need BITMAPINFOHEADER or later)`);
  const width = v.getInt32(18, true);
  const rawHeight = v.getInt32(22, true);
  const bpp = v.getUint16(28, true);
  const compression = v.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || height <= 0 || width * height > MAX_PIXELS) fail(`dimensions ${width}x${rawHeight}`);
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail(`${bpp} bits per pixel`);
  // 0 = BI_RGB, 3 = BI_BITFIELDS, 6 = BI_ALPHABITFIELDS; RLE (1, 2) and JPEG/PNG (4, 5) are refused.
  if (compression !== 0 && compression !== 3 && compression !== 6) fail(`compression type ${compression} (only uncompressed is supported)`);

  let masks = { r: 0x00ff0000, g: 0x0000ff00, b: 0x000000ff, a: 0 };
  if (bpp === 16 && compression === 0) masks = { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0 };
  if (compression === 3 || compression === 6) {
    // Masks follow a 40-byte header (or are inside a V4/V5 header at the same offset).
    if (14 + 40 + 12 > bytes.length) fail("truncated bit masks");
    masks = {
      r: v.getUint32(54, true),
      g: v.getUint32(58, true),
      b: v.getUint32(62, true),
      a: compression === 6 || headerSize >= 56 ? v.getUint32(66, true) : 0,
    };
  }

  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const colorsUsed = v.getUint32(46, true) || 1 << bpp;
    const start = 14 + headerSize;
    if (colorsUsed > 256 || start + colorsUsed * 4 > bytes.length) fail("palette out of range");
    palette = bytes.subarray(start, start + colorsUsed * 4);
  }
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + rowBytes * height > bytes.length) fail(`pixel data (${rowBytes * height} bytes at ${dataOffset}) runs past the end of the file`);

  const out = new Uint8Array(width * height * 4);
  const ch = [maskShift(masks.r), maskShift(masks.g), maskShift(masks.b), maskShift(masks.a)];
  const scale = (val: number, c: { shift: number; max: number }) => (c.max === 0 ? 255 : Math.round((((val >>> c.shift) & c.max) * 255) / c.max));
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      if (palette) {
        const bit = x * bpp;
        const byte = bytes[row + (bit >> 3)]!;
        const idx = bpp === 8 ? byte : (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        if (idx * 4 + 2 >= palette.length) fail(`palette index ${idx} out of range`);
        out[o] = palette[idx * 4 + 2]!;
        out[o + 1] = palette[idx * 4 + 1]!;
        out[o + 2] = palette[idx * 4]!;
        out[o + 3] = 255;
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = bytes[p + 2]!;
        out[o + 1] = bytes[p + 1]!;
        out[o + 2] = bytes[p]!;
        out[o + 3] = 255;
      } else {
        const val = bpp === 16 ? v.getUint16(row + x * 2, true) : v.getUint32(row + x * 4, true);
        out[o] = scale(val, ch[0]!);
        out[o + 1] = scale(val, ch[1]!);
        out[o + 2] = scale(val, ch[2]!);
        out[o + 3] = masks.a ? scale(val, ch[3]!) : 255;
      }
    }
  }
  return { width, height, data: out };
}
