/**
 * npm run screenshot -- INPUT --out FILE.jpg|FILE.png: the README's picture of the demo page, taken by the same
 * headless Chromium the page tests use, against the bundled Worker in workerd. The photo goes in
 * through the page's file input, exactly as a visitor's would; `--darken G,GAMMA` first turns a
 * well-exposed photo into a low-light one (see scripts/lib/darken.ts).
 */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { decode, encode } from "../src/image/codecs.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import { fitSize, resizeImage } from "../src/image/resize.ts";
import { initNodeCodecs } from "./lib/node-engine.ts";
import { startWorker } from "./lib/local-worker.ts";
import { launchBrowser } from "./lib/browser.ts";
import { darkenFlag, darkenImage } from "./lib/darken.ts";
import { intFlag, parseCli, readInput, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run screenshot -- INPUT --out FILE.jpg|FILE.png [--darken G,GAMMA] [--width PX] [--height PX] [--max-side PX] [--split 0-100] [--dark]

  INPUT        a PNG or JPEG photo (dark, or made dark with --darken)
  --out        where to write the screenshot (JPEG quality 85, or PNG)
  --width      viewport width in CSS px (default 1280)
  --height     viewport height in CSS px (default 860)
  --max-side   shrink the photo to at most this many px on its longer side first (default 1200)
  --split      where the before/after slider stands, percent (default 45)
  --dark       the page in its dark colour scheme`;

const fail: Fail = usageError("screenshot");
const { values, positionals } = parseCli("screenshot", HELP, {
  allowPositionals: true,
  options: {
    out: { type: "string" },
    darken: { type: "string" },
    width: { type: "string", default: "1280" },
    height: { type: "string", default: "860" },
    "max-side": { type: "string", default: "1200" },
    split: { type: "string", default: "45" },
    dark: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (positionals.length !== 1 || !values.out) fail("give one INPUT and --out FILE.jpg|FILE.png");
const outType = /\.png$/i.test(values.out!) ? "png" : /\.jpe?g$/i.test(values.out!) ? "jpeg" : fail(`--out must end in .jpg or .png, got "${values.out}"`);
const width = intFlag(values.width, "--width", 320, 3840, fail)!;
const height = intFlag(values.height, "--height", 320, 3840, fail)!;
const maxSide = intFlag(values["max-side"], "--max-side", 64, 8192, fail)!;
const split = intFlag(values.split, "--split", 0, 100, fail)!;
const darken = darkenFlag(values.darken, fail);

await initNodeCodecs();
const input = positionals[0]!;
const bytes = readInput(input, fail);
const format = sniffFormat(bytes) ?? fail(`${input} is not a PNG, JPEG, WebP or AVIF`);
let photo = await decode(bytes, format);
const size = fitSize(photo.width, photo.height, maxSide, maxSide, "scale-down");
if (size.width !== photo.width) photo = await resizeImage(photo, size.width, size.height);
if (darken) photo = darkenImage(photo, darken[0], darken[1]);
const upload = await encode(photo, "png");

const worker = await startWorker();
const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: values.dark ? "dark" : "light" });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${worker.url}/`);
  const name = basename(input).replace(/\.[^.]*$/, "") + ".png";
  await page.setInputFiles("#file", { name, mimeType: "image/png", buffer: Buffer.from(upload) });
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "Done.", null, { timeout: 120_000 });
  await page.waitForFunction(() => (document.getElementById("after") as HTMLImageElement).complete);
  // The slider, moved the way a visitor would: focus it and press keys.
  await page.focus("#handle");
  await page.keyboard.press("Home");
  for (let i = 0; i < split; i++) await page.keyboard.press("ArrowRight");
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const shot = await page.screenshot({ fullPage: true, type: outType, ...(outType === "jpeg" ? { quality: 85 } : {}) });
  writeFileSync(values.out!, shot);
  const strength = await page.textContent("#fact-strength");
  console.log(`wrote ${values.out} (${width}px wide page; photo ${photo.width}x${photo.height}, strength ${strength}, ${shot.length} bytes)`);
} finally {
  await browser.close();
  await worker.dispose();
}
