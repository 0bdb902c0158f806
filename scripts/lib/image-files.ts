/** Finding image files for the CLIs and naming their outputs. */
import { readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import type { ImageFormat } from "../../src/shared/image.ts";

const EXTENSIONS: Record<string, ImageFormat> = { ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".avif": "avif" };
const OUTPUT_EXTENSION: Record<ImageFormat, string> = { png: ".png", jpeg: ".jpg", webp: ".webp", avif: ".avif" };

/** The format an extension names, or undefined. */
export function formatOfPath(path: string): ImageFormat | undefined {
  return EXTENSIONS[extname(path).toLowerCase()];
}

/** Files as given, plus the PNG/JPEG/WebP/AVIF files directly inside any directory given (sorted). */
export function expandInputs(inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    if (statSync(input).isDirectory()) {
      const files = readdirSync(input)
        .filter((f) => formatOfPath(f) !== undefined)
        .sort(naturalCompare)
        .map((f) => join(input, f));
      if (files.length === 0) throw new Error(`${input} holds no .png, .jpg, .jpeg, .webp or .avif files`);
      out.push(...files);
    } else out.push(input);
  }
  return out;
}

/** "2.png" before "10.png". */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

/** The input's file name with the extension of `format` (an input extension already naming it is kept). */
export function outputName(input: string, format: ImageFormat): string {
  const ext = extname(input);
  const stem = basename(input, ext);
  if (formatOfPath(input) === format) return stem + ext;
  return stem + OUTPUT_EXTENSION[format];
}
