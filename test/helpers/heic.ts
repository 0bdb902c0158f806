/**
 * HEIC fixtures: the patterns test/fixtures/heic/ was encoded from (make.sh) and the committed files;
 * scripts/lib/heic-grid.ts assembles them into grids (hostile variants too).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { heicPicture, type HeicPicture } from "../../scripts/lib/heic-grid.ts";

export { colrIcc, gridHeic, heicPicture, irot, type GridOptions, type HeicPicture } from "../../scripts/lib/heic-grid.ts";

/** The 128x128 pattern the grid's tiles are cut from: smooth, different in every channel. */
export function heicPattern(x: number, y: number): [number, number, number] {
  return [40 + x, 30 + y, 100 + (((x * y) >> 6) % 100)];
}

/** The single-image fixture's 96x64 dark scene. */
export function darkHeicPattern(x: number, y: number): [number, number, number] {
  return [8 + ((x * 20) >> 6), 6 + ((y * 16) >> 6), 10 + (((x + y) * 8) >> 7)];
}

const DIR = new URL("../fixtures/heic/", import.meta.url);
export const readHeicFixture = (name: string): Uint8Array => new Uint8Array(readFileSync(fileURLToPath(new URL(name, DIR))));

/** The committed four tiles (64x64 quarters of heicPattern), row-major. */
export function patternTiles(): HeicPicture[] {
  return ["tile-0-0", "tile-1-0", "tile-0-1", "tile-1-1"].map((n) => heicPicture(readHeicFixture(`${n}.heic`)));
}

