/**
 * Test images generated in the test process: pixels from a function, encoded with the same jSquash
 * codecs the Worker uses (compiled for Node), plus hand-built byte structures (EXIF, pixel-bomb header).
 */
import { crc32 } from "node:zlib";
import { decode, encode } from "../../src/image/codecs.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { sniffFormat } from "../../src/image/sniff.ts";
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

/** Inserts an EXIF APP1 segment carrying `orientation` (1-8) right after the JPEG's SOI marker. */
export function withExifOrientation(jpeg: Uint8Array, orientation: number): Uint8Array<ArrayBuffer> {
  // "Exif\0\0", big-endian TIFF header, IFD0 with one entry: Orientation (0x0112), SHORT, count 1.
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const len = payload.length + 2;
  const app1 = [0xff, 0xe1, len >> 8, len & 255, ...payload];
  const out = new Uint8Array(jpeg.length + app1.length);
  out.set(jpeg.subarray(0, 2), 0);
  out.set(app1, 2);
  out.set(jpeg.subarray(2), 2 + app1.length);
  return out;
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
