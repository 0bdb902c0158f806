/**
 * The tests' images, all generated in the test process (no files of their own on disk): pixels from a
 * function, encoded with the same jSquash codecs the Worker uses (compiled for Node), and byte-level
 * builders (hand-written PNGs, EXIF orientation, pixel-bomb headers).
 */
import { crc32, deflateSync } from "node:zlib";
import { decode, encode } from "../../src/image/codecs.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { sniffFormat } from "../../src/image/sniff.ts";
import { luma709 } from "../../src/image/luma.ts";
import { initNodeCodecs } from "../../scripts/lib/node-engine.ts";

export type { RgbaImage };

export const initFixtures = initNodeCodecs;

/** An opaque image whose pixel (x, y) is rgb(x, y). */
export function paint(width: number, height: number, rgb: (x: number, y: number) => [number, number, number]): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

/** A dim, textured scene (mean luma around 25/255): what the model is meant to brighten. */
export function darkScene(width: number, height: number): RgbaImage {
  return paint(width, height, (x, y) => {
    const v = 8 + ((x * 7 + y * 13) % 24) + (((x >> 3) + (y >> 3)) % 2) * 12;
    return [v, Math.round(v * 0.9), Math.round(v * 0.8)];
  });
}

export const encodePng = (img: RgbaImage) => encode(img, "png");
export const encodeJpeg = (img: RgbaImage, quality = 90) => encode(img, "jpeg", { quality });

export async function decodeAny(bytes: Uint8Array): Promise<RgbaImage> {
  const format = sniffFormat(bytes);
  if (format === null) throw new Error("not a PNG, JPEG, WebP or AVIF");
  return decode(bytes, format);
}

/** Mean Rec. 709 luma, 0-1: the brightness strength=auto reads (src/image/luma.ts). */
export function meanLuma709(img: RgbaImage): number {
  let sum = 0;
  for (let i = 0; i < img.data.length; i += 4) sum += luma709(img.data[i]!, img.data[i + 1]!, img.data[i + 2]!);
  return sum / (img.data.length / 4) / 255;
}

/** Mean Rec. 601 luma, 0-255. */
export function meanLuma(img: RgbaImage): number {
  let sum = 0;
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
  return sum / (d.length / 4);
}

/** Mean RGB of the rectangle [x0, x1) x [y0, y1). */
export function meanRgb(img: RgbaImage, x0: number, y0: number, x1: number, y1: number): [number, number, number] {
  const s = [0, 0, 0];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      s[0]! += img.data[i]!;
      s[1]! += img.data[i + 1]!;
      s[2]! += img.data[i + 2]!;
    }
  }
  const n = (x1 - x0) * (y1 - y0);
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

/** A structurally valid PNG (signature, IHDR, empty IDAT, IEND) that declares width x height pixels. */
export function pngDeclaring(width: number, height: number): Uint8Array<ArrayBuffer> {
  const chunk = (type: string, data: number[]): number[] => {
    const body = Buffer.from([...Buffer.from(type, "latin1"), ...data]);
    const crc = crc32(body);
    return [...u32(data.length), ...body, ...u32(crc)];
  };
  const ihdr = [...u32(width), ...u32(height), 8, 6, 0, 0, 0];
  return new Uint8Array([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ...chunk("IHDR", ihdr),
    ...chunk("IDAT", [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
    ...chunk("IEND", []),
  ]);
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

/**
 * A real dark photo without a new file in the repository: the first "before" cell of the README's
 * figure (model/before-after.jpg, CC0 photos darkened by scripts/figure.ts), cropped to the photo by
 * dropping the figure's white background. Needs initFixtures().
 */
export async function realDarkPhoto(): Promise<RgbaImage> {
  const { readFile } = await import("node:fs/promises");
  const sheet = await decodeAny(new Uint8Array(await readFile(new URL("../../model/before-after.jpg", import.meta.url))));
  // The photo starts just inside the top-left corner; it ends where a column (row) of the figure's
  // white background begins.
  const white = (x: number, y: number) => {
    const i = (y * sheet.width + x) * 4;
    return Math.min(sheet.data[i]!, sheet.data[i + 1]!, sheet.data[i + 2]!) > 240;
  };
  const runs = (n: number, isWhite: (k: number) => boolean) => {
    let k = 0;
    while (k < n && isWhite(k)) k++;
    const start = k;
    while (k < n && !isWhite(k)) k++;
    return [start, k] as const;
  };
  const probeY = 40;
  const probeX = 40;
  let [x0, x1] = runs(sheet.width, (x) => white(x, probeY));
  let [y0, y1] = runs(sheet.height, (y) => white(probeX, y));
  // A few pixels in from the edge: JPEG ringing against the white background is not the photo.
  [x0, y0, x1, y1] = [x0 + 3, y0 + 3, x1 - 3, y1 - 3];
  if (x1 - x0 < 100 || y1 - y0 < 100) throw new Error(`model/before-after.jpg: no photo found in its first cell`);
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) data.set(sheet.data.subarray(((y0 + y) * sheet.width + x0) * 4, ((y0 + y) * sheet.width + x1) * 4), y * width * 4);
  return { width, height, data };
}

/** width x height image whose pixels come from f(x, y) -> [r, g, b, a]. */
export function makePixels(width: number, height: number, f: (x: number, y: number) => [number, number, number, number]): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 4);
  }
  return { width, height, data };
}

/** A dark, smoothly varying test image (values in about 10..60). */
export function darkGradient(width: number, height: number): RgbaImage {
  return makePixels(width, height, (x, y) => [10 + ((x * 50) / width) | 0, 20 + ((y * 40) / height) | 0, 15, 255]);
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/**
 * A PNG written by hand (any colour type / bit depth): `rows` are the unfiltered scanlines without
 * the filter byte. With `idat: false` the file ends after IHDR (a header-only "bomb").
 */
export function rawPng(width: number, height: number, bitDepth: number, colorType: number, rows: Uint8Array[], idat = true): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", ihdr)];
  if (idat) {
    const raw = Buffer.concat(rows.flatMap((r) => [Buffer.from([0]), Buffer.from(r)]));
    parts.push(pngChunk("IDAT", deflateSync(raw)), pngChunk("IEND", new Uint8Array(0)));
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** Insert an APP1 EXIF segment with the given orientation right after the JPEG's SOI marker. */
export function withExifOrientation(jpeg: Uint8Array, orientation: number, byteOrder: "MM" | "II" = "MM"): Uint8Array<ArrayBuffer> {
  const le = byteOrder === "II";
  const tiff = Buffer.alloc(8 + 2 + 12 + 4);
  const w16 = (v: number, o: number) => (le ? tiff.writeUInt16LE(v, o) : tiff.writeUInt16BE(v, o));
  const w32 = (v: number, o: number) => (le ? tiff.writeUInt32LE(v, o) : tiff.writeUInt32BE(v, o));
  tiff.write(byteOrder, 0, "latin1");
  w16(42, 2);
  w32(8, 4); // IFD0 right after the header
  w16(1, 8); // one entry
  w16(0x0112, 10); // Orientation
  w16(3, 12); // SHORT
  w32(1, 14); // count
  w16(orientation, 18); // value, left-justified in the 4-byte field
  w32(0, 22); // no next IFD
  const payload = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const seg = Buffer.alloc(4);
  seg.writeUInt16BE(0xffe1, 0);
  seg.writeUInt16BE(payload.length + 2, 2);
  return new Uint8Array(Buffer.concat([jpeg.subarray(0, 2), seg, payload, jpeg.subarray(2)]));
}
