/**
 * `npm run phone-night -- --photos DIR --out DIR [--count N] [--size PX] [--seed S] [--exposure E] [--clean]`:
 * builds a "phone night" evaluation set from clean, well-exposed photos (scripts/lib/phone-night.ts):
 * out/high/*.png (the clean photo at --size) and out/low/*.jpg (its night shot, JPEG 4:2:0 at q 80-92),
 * for `npm run eval -- --low out/low --high out/high --at-reference-gain`. `--clean` leaves out the
 * sensor noise and the colour blotches (dark JPEGs clean but for their quantisation, as a phone's own
 * noise reduction leaves its darkest shots); `--exposure` fixes the exposure instead of drawing it.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { decode, encode } from "../src/image/codecs.ts";
import { fitSize, resizeImage } from "../src/image/resize.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import { mulberry32 } from "../src/shared/rng.ts";
import { intFlag, parseCli, usageError, type Fail } from "./lib/cli.ts";
import { expandInputs } from "./lib/image-files.ts";
import { initNodeCodecs } from "./lib/node-engine.ts";
import { drawShot, nightShot } from "./lib/phone-night.ts";

const HELP = `Usage: npm run phone-night -- --photos DIR --out DIR [--count N] [--size PX] [--seed S] [--exposure E] [--clean]

  --photos DIR   clean, well-exposed photos (PNG/JPEG)
  --out DIR      writes DIR/high/<name>.png and DIR/low/<name>.jpg
  --count N      at most N photos, evenly spread over the folder (default: all)
  --size PX      longer side of the set's images (default 768)
  --seed S       draws each photo's exposure, noise and JPEG quality (default 1)
  --exposure E   every shot at this share of the photo's light, 0.001-1 (default: drawn, 0.03-0.12)
  --clean        no sensor noise and no colour blotches: only the exposure and the JPEG's quantisation`;

const fail: Fail = usageError("phone-night");
const { values } = parseCli("phone-night", HELP, {
  options: {
    photos: { type: "string" },
    out: { type: "string" },
    count: { type: "string" },
    size: { type: "string", default: "768" },
    seed: { type: "string", default: "1" },
    exposure: { type: "string" },
    clean: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (!values.photos || !values.out) fail("give --photos DIR and --out DIR");
const size = intFlag(values.size, "--size", 32, 4096, fail)!;
const seed = intFlag(values.seed, "--seed", 0, 2 ** 31, fail)!;
let exposure: number | undefined;
if (values.exposure !== undefined) {
  exposure = Number(values.exposure);
  if (!(exposure >= 0.001 && exposure <= 1)) fail(`--exposure must be a number in 0.001..1, got ${JSON.stringify(values.exposure)}`);
}
let files = expandInputs([values.photos!]);
const count = intFlag(values.count, "--count", 1, 100_000, fail);
if (count !== undefined && count < files.length) files = Array.from({ length: count }, (_, i) => files[Math.floor((i * files.length) / count)]!);

/** What --clean sets: photons enough that shot noise is far under a level, no read noise, no blotches. */
const CLEAN = { photons: 1e12, read: 0, blotch: 0 };

await initNodeCodecs();
mkdirSync(join(values.out!, "high"), { recursive: true });
mkdirSync(join(values.out!, "low"), { recursive: true });
for (const [i, file] of files.entries()) {
  const bytes = new Uint8Array(readFileSync(file));
  const format = sniffFormat(bytes);
  if (format === null) continue;
  const photo = await decode(bytes, format);
  const fit = fitSize(photo.width, photo.height, size, size, "scale-down");
  const clean = await resizeImage(photo, fit.width, fit.height);
  const shot = {
    ...drawShot(seed * 100_003 + i),
    ...(exposure !== undefined ? { exposure } : {}),
    ...(values.clean ? CLEAN : {}),
  };
  const dark = nightShot(clean, shot, seed * 7919 + i);
  const quality = 80 + Math.floor(13 * mulberry32(seed + i)());
  const name = basename(file, extname(file));
  writeFileSync(join(values.out!, "high", `${name}.png`), await encode(clean, "png"));
  // 4:2:0, as phones write it (the encoder's default here).
  writeFileSync(join(values.out!, "low", `${name}.png`.replace(/\.png$/, ".jpg")), await encode(dark, "jpeg", { quality }));
  console.log(`${name}: exposure ${(shot.exposure * 100).toFixed(1)} %, q ${quality}`);
}
