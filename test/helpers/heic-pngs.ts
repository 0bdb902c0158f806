/**
 * Writes the PNGs test/fixtures/heic/make.sh encodes: the four 64x64 quarters of heicPattern and the
 * dark scene. Usage: node --import tsx test/helpers/heic-pngs.ts OUT_DIR
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { darkHeicPattern, heicPattern } from "./heic.ts";
import { PNG_SIGNATURE, pngChunk } from "./hostile-images.ts";

/** An 8-bit RGB PNG of f over w x h. */
function png(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(f(x, y), y * (1 + 3 * w) + 1 + 3 * x);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from(PNG_SIGNATURE), pngChunk("IHDR", ihdr), pngChunk("IDAT", deflateSync(raw)), pngChunk("IEND", [])]);
}

const out = process.argv[2];
if (!out) throw new Error("usage: heic-pngs.ts OUT_DIR");
for (const ty of [0, 1]) for (const tx of [0, 1]) writeFileSync(join(out, `tile-${tx}-${ty}.png`), png(64, 64, (x, y) => heicPattern(tx * 64 + x, ty * 64 + y)));
writeFileSync(join(out, "dark.png"), png(96, 64, darkHeicPattern));
// A phone-sized tile for the memory measurement (scripts/memory.ts repeats it into a 12 MP grid).
writeFileSync(join(out, "tile-512.png"), png(512, 512, (x, y) => darkHeicPattern(x >> 2, y >> 3)));
