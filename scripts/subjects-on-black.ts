/**
 * `npm run subjects-on-black -- --photos DIR --out DIR`: builds the "subjects on black" set: well-exposed
 * photos shrunk onto large pure-black canvases (centred and off-centre), plus generated logos and
 * clip-art on black. Scored with `npm run eval -- --low OUT --high OUT` (PSNR of output against input:
 * these images must come back unchanged). Written as PNG so the black stays exactly 0.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { initNodeCodecs } from "./lib/node-engine.ts";
import { expandInputs } from "./lib/image-files.ts";
import { intFlag, parseCli, usageError, type Fail } from "./lib/cli.ts";
import { decode, encode } from "../src/image/codecs.ts";
import { resizeImage } from "../src/image/resize.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import { mulberry32 } from "../src/shared/rng.ts";
import type { RgbaImage } from "../src/shared/image.ts";

const HELP = `Usage: npm run subjects-on-black -- --photos DIR[,DIR] --out DIR [--count N] [--logos N] [--seed N]

  --photos DIRS  well-exposed photos (PNG/JPEG), e.g. the photos-cc images not tagged dark
  --out DIR      where the set is written (PNG)
  --count N      photos used (default 24): each gives a centred and an off-centre canvas
  --logos N      generated logos and clip-art (default 12)
  --seed N       placement and logo colours (default 1)`;

const fail: Fail = usageError("subjects-on-black");

function blackCanvas(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width, height, data };
}

function paste(canvas: RgbaImage, img: RgbaImage, x0: number, y0: number): void {
  for (let y = 0; y < img.height; y++) {
    const src = img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4);
    canvas.data.set(src, ((y0 + y) * canvas.width + x0) * 4);
  }
}

/** A flat-colour emblem: a ring, a bar of "letters" and a disc, anti-aliased, on black. */
function logo(width: number, height: number, r: () => number): RgbaImage {
  const img = blackCanvas(width, height);
  const colour = (): [number, number, number] => {
    const c: [number, number, number] = [60 + 195 * r(), 60 + 195 * r(), 60 + 195 * r()];
    c[Math.floor(r() * 3)] = 230 + 25 * r(); // one saturated, bright channel: brand colours, not mud
    return c;
  };
  const [c1, c2] = [colour(), colour()];
  const cx = width * (0.3 + 0.4 * r());
  const cy = height * (0.3 + 0.4 * r());
  const radius = Math.min(width, height) * (0.08 + 0.08 * r());
  const letters = 3 + Math.floor(r() * 5);
  const barY = cy + radius * 1.6;
  const letterW = radius * 0.5;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const d = Math.hypot(x - cx, y - cy);
      let cover = 0;
      let c = c1;
      const ring = 1 - Math.min(1, Math.abs(d - radius) / (radius * 0.18));
      const disc = Math.min(1, Math.max(0, radius * 0.45 - d));
      if (ring > 0 || disc > 0) cover = Math.max(ring > 0.5 ? 1 : ring * 2, disc);
      const lx = (x - (cx - (letters * letterW * 1.4) / 2)) / (letterW * 1.4);
      if (y >= barY && y < barY + radius * 0.7 && lx >= 0 && lx < letters && lx % 1 < 0.7) {
        cover = 1;
        c = c2;
      }
      if (cover > 0) {
        const i = (y * width + x) * 4;
        for (let k = 0; k < 3; k++) img.data[i + k] = Math.round(c[k]! * cover);
      }
    }
  return img;
}

async function main(): Promise<void> {
  const { values } = parseCli("subjects-on-black", HELP, {
    options: {
      photos: { type: "string" },
      out: { type: "string" },
      count: { type: "string" },
      logos: { type: "string" },
      seed: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (!values.photos) fail("--photos DIR is required");
  if (!values.out) fail("--out DIR is required");
  const outDir: string = values.out;
  const count = intFlag(values.count, "--count", 0, 10000, fail) ?? 24;
  const logos = intFlag(values.logos, "--logos", 0, 1000, fail) ?? 12;
  const r = mulberry32(intFlag(values.seed, "--seed", 0, 2 ** 31, fail) ?? 1);
  await initNodeCodecs();
  mkdirSync(outDir, { recursive: true });

  const photos = expandInputs(values.photos.split(",")).slice(0, count);
  for (const path of photos) {
    const bytes = new Uint8Array(readFileSync(path));
    const format = sniffFormat(bytes);
    if (format !== "png" && format !== "jpeg") continue;
    const photo = await decode(bytes, format);
    // The subject: a third of the canvas side (a ninth of its area), on a canvas of twice the photo's size.
    const cw = photo.width * 2;
    const ch = photo.height * 2;
    const subject = await resizeImage(photo, Math.round(cw / 3), Math.round(ch / 3));
    const stem = basename(path, extname(path));
    for (const [tag, fx, fy] of [["centre", 0.5, 0.5], ["corner", 0.15 + 0.1 * r(), 0.2 + 0.1 * r()]] as const) {
      const canvas = blackCanvas(cw, ch);
      paste(canvas, subject, Math.round((cw - subject.width) * fx), Math.round((ch - subject.height) * fy));
      writeFileSync(join(outDir, `${stem}-${tag}.png`), await encode(canvas, "png"));
    }
  }
  for (let i = 0; i < logos; i++) {
    const img = logo(640 + Math.floor(r() * 400), 480 + Math.floor(r() * 240), r);
    writeFileSync(join(outDir, `logo-${String(i + 1).padStart(2, "0")}.png`), await encode(img, "png"));
  }
  console.log(`wrote ${photos.length * 2} photo canvases and ${logos} logos to ${outDir}`);
}

await main();
