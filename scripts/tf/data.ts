/**
 * Training data: image files found recursively in one or more folders, decoded with the Worker's codecs
 * (BMP with bmp.ts) and resized with the Worker's own resize code to the copy the Worker estimates
 * curves on (longer side `size`, the same ESTIMATION_FILTER), so training sees the same kind of input as serving.
 * The resized images are small and kept in memory as float RGB.
 */
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { decode } from "../../src/image/codecs.ts";
import { ESTIMATION_FILTER, estimationDims, resizeImage } from "../../src/image/resize.ts";
import { sniffFormat } from "../../src/image/sniff.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { initNodeCodecs } from "../lib/node-engine.ts";
import { decodeBmp, isBmp } from "./bmp.ts";

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".bmp"];
export const DEFAULT_DATA_DIR = "data/train/";

export interface TrainImage {
  /** Path relative to its data folder, for reports. */
  name: string;
  width: number;
  height: number;
  /** width * height * 3 floats, RGB in [0, 1], row-major. */
  rgb: Float32Array;
}

/** Raised when no usable images exist; the CLI prints its message and exits 1. */
export class NoTrainingDataError extends Error {}

function noDataMessage(folders: string[], why: string): string {
  const isDefault = folders.length === 1 && folders[0]!.replace(/\/+$/, "") === DEFAULT_DATA_DIR.replace(/\/+$/, "");
  return (
    `no training images: ${why}.\n` +
    (isDefault
      ? `Put PNG, JPEG or BMP photos in ${DEFAULT_DATA_DIR} (subfolders are read too; dark photos, or well-exposed ones with --augment), or pass --data DIR[,DIR...].`
      : `Each --data folder is searched recursively for ${IMAGE_EXTENSIONS.join(", ")} files.`)
  );
}

/** Image files under each folder, recursively (hidden entries skipped), sorted for reproducibility. */
export function listImages(folders: string[]): { folder: string; file: string }[] {
  const out: { folder: string; file: string }[] = [];
  const missing: string[] = [];
  const walk = (folder: string, dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(folder, p);
      else if (IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push({ folder, file: p });
    }
  };
  for (const f of folders) {
    if (!existsSync(f) || !statSync(f).isDirectory()) {
      missing.push(f);
      continue;
    }
    walk(f, f);
  }
  if (out.length === 0) {
    const why = missing.length > 0 ? `${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not exist` : `${folders.join(", ")} ${folders.length === 1 ? "has" : "have"} no ${IMAGE_EXTENSIONS.join("/")} files`;
    throw new NoTrainingDataError(noDataMessage(folders, why));
  }
  if (missing.length > 0) console.warn(`warning: data folder(s) not found, skipped: ${missing.join(", ")}`);
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

async function decodeFile(bytes: Uint8Array): Promise<RgbaImage> {
  if (isBmp(bytes)) return decodeBmp(bytes);
  const format = sniffFormat(bytes);
  if (!format) throw new Error("not a PNG, JPEG or BMP file");
  return decode(bytes, format);
}

function toRgb(img: RgbaImage): Float32Array {
  // Alpha is ignored: training images are photos; a transparent PNG's colours are used as they are.
  const n = img.width * img.height;
  const rgb = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = img.data[i * 4]! / 255;
    rgb[i * 3 + 1] = img.data[i * 4 + 1]! / 255;
    rgb[i * 3 + 2] = img.data[i * 4 + 2]! / 255;
  }
  return rgb;
}

export interface LoadResult {
  images: TrainImage[];
  /** Files that could not be decoded, with the reason. */
  skipped: { file: string; reason: string }[];
  /** Image count per data folder. */
  perFolder: Record<string, number>;
}

/**
 * Decode and resize every image: the longer side becomes `size` (never enlarged), then an image whose
 * shorter side is below `minSide` is enlarged to it (the crop must fit), with the same resize code.
 */
export async function loadImages(folders: string[], size: number, onProgress?: (done: number, total: number) => void): Promise<LoadResult> {
  const files = listImages(folders);
  await initNodeCodecs();
  const images: TrainImage[] = [];
  const skipped: LoadResult["skipped"] = [];
  const perFolder: Record<string, number> = Object.fromEntries(folders.map((f) => [f, 0]));
  for (const [i, { folder, file }] of files.entries()) {
    try {
      const img = await decodeFile(new Uint8Array(readFileSync(file)));
      const d = estimationDims(img.width, img.height, size);
      const small = await resizeImage(img, d.width, d.height, ESTIMATION_FILTER);
      images.push({ name: relative(folder, file), width: small.width, height: small.height, rgb: toRgb(small) });
      perFolder[folder] = (perFolder[folder] ?? 0) + 1;
    } catch (e) {
      skipped.push({ file, reason: (e as Error).message });
    }
    onProgress?.(i + 1, files.length);
  }
  if (images.length === 0) {
    throw new NoTrainingDataError(noDataMessage(folders, `none of the ${files.length} image files could be decoded (first: ${skipped[0]?.file}: ${skipped[0]?.reason})`));
  }
  return { images, skipped, perFolder };
}

/**
 * Default square crop: the shorter side of most images (10th percentile, so one tiny image does not
 * shrink everything), at most `size`, at least `minCrop`.
 */
export function defaultCrop(images: TrainImage[], size: number, minCrop: number): number {
  const shorts = images.map((i) => Math.min(i.width, i.height)).sort((a, b) => a - b);
  const p10 = shorts[Math.floor(0.1 * (shorts.length - 1))]!;
  return Math.max(minCrop, Math.min(size, p10));
}

/** Enlarges (in place in the array) images whose shorter side is below `crop`, so every crop fits. */
export async function ensureMinSide(images: TrainImage[], crop: number): Promise<number> {
  let n = 0;
  for (const [i, img] of images.entries()) {
    if (Math.min(img.width, img.height) >= crop) continue;
    const s = crop / Math.min(img.width, img.height);
    const w = Math.max(crop, Math.round(img.width * s));
    const h = Math.max(crop, Math.round(img.height * s));
    const rgba = new Uint8Array(img.width * img.height * 4);
    for (let p = 0; p < img.width * img.height; p++) {
      rgba[p * 4] = Math.round(img.rgb[p * 3]! * 255);
      rgba[p * 4 + 1] = Math.round(img.rgb[p * 3 + 1]! * 255);
      rgba[p * 4 + 2] = Math.round(img.rgb[p * 3 + 2]! * 255);
      rgba[p * 4 + 3] = 255;
    }
    const big = await resizeImage({ width: img.width, height: img.height, data: rgba }, w, h, ESTIMATION_FILTER);
    images[i] = { name: img.name, width: w, height: h, rgb: toRgb(big) };
    n++;
  }
  return n;
}
