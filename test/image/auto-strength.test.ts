/** strength=auto's policy (src/image/auto-strength.ts): the exposure reading, the cap and the lift. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AUTO_MAX_LIFT, AUTO_MAX_MEAN, AUTO_MIN_MEAN, autoStrength, boundStrength, contentBrightness, contentMask, exposureScore } from "../../src/image/auto-strength.ts";
import { applyCurves, type CurveMaps } from "../../src/image/curves.ts";
import { luma709 } from "../../src/image/luma.ts";
import { makePixels, meanLuma709 as meanLuma, type RgbaImage } from "../helpers/fixtures.ts";

/** Maps with every channel of every iteration set from f(channel, x, y). */
function maps(channels: number, width: number, height: number, f: (c: number, x: number, y: number) => number): CurveMaps {
  const data = new Float32Array(channels * width * height);
  for (let c = 0; c < channels; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[(c * height + y) * width + x] = f(c, x, y);
  return { data, channels, width, height };
}

/** The cap alone: boundStrength with the lift off (maxLift 1). */
const capStrength = (img: RgbaImage, m: CurveMaps, iterations: number, s: number, maxMean = AUTO_MAX_MEAN): number =>
  boundStrength(img, m, iterations, s, { maxMean, maxLift: 1 });
/** The lift alone: boundStrength with the cap off (maxMean 1: no content is brighter than white). */
const liftStrength = (img: RgbaImage, m: CurveMaps, iterations: number, s: number, minMean = AUTO_MIN_MEAN, maxLift = AUTO_MAX_LIFT): number =>
  boundStrength(img, m, iterations, s, { maxMean: 1, minMean, maxLift });

test("autoStrength: 1 when dark, 0 when well exposed, monotonic in between", () => {
  assert.equal(autoStrength(0.05), 1);
  assert.equal(autoStrength(0.25), 1);
  assert.equal(autoStrength(0.45), 0);
  assert.equal(autoStrength(0.7), 0);
  let prev = 1;
  for (let m = 0.25; m <= 0.45; m += 0.01) {
    const s = autoStrength(m);
    assert.ok(s <= prev && s >= 0 && s <= 1);
    prev = s;
  }
  assert.ok(Math.abs(luma709(1, 1, 1) - 1) < 1e-12);
  assert.ok(Math.abs(luma709(1, 0, 0) - 0.2126) < 1e-12);
});

test("exposureScore: a dark background under a well-lit subject does not read as a dark image", () => {
  // 70% black background, 30% well-lit subject (luma 200): the mean of all pixels is 0.235.
  const portrait = makePixels(10, 10, (x) => (x < 7 ? [0, 0, 0, 255] : [200, 200, 200, 255]));
  assert.ok(meanLuma(portrait) < 0.25);
  // Judged on the subject alone: the black canvas is empty, the column bordering it a blend.
  const score = exposureScore(portrait);
  assert.ok(Math.abs(score - 200 / 255) < 1e-9, `score ${score}`);
  assert.equal(autoStrength(score), 0);
  // A dark room with one bright lamp (5% of pixels) is still dark.
  const room = makePixels(20, 10, (x, y) => (x === 0 && y < 10 ? [255, 255, 220, 255] : [15, 12, 10, 255]));
  assert.equal(autoStrength(exposureScore(room)), 1);
  assert.equal(exposureScore(makePixels(2, 2, () => [255, 255, 255, 255])), 1);
});

test("contentMask: black canvas and the subject's blended border are left out; line art and black frames fall back", () => {
  // 64x48 canvas, a 12x10 subject at (20, 15).
  const onBlack = makePixels(64, 48, (x, y) => (x >= 20 && x < 32 && y >= 15 && y < 25 ? [180, 150, 120, 255] : [0, 0, 0, 255]));
  const mask = contentMask(onBlack);
  const marked = [...mask.keys()].filter((p) => mask[p]);
  assert.equal(marked.length, 10 * 8, "the subject's interior (its 1 px border dropped)");
  assert.ok(marked.every((p) => p % 64 >= 21 && p % 64 < 31 && Math.floor(p / 64) >= 16 && Math.floor(p / 64) < 24));
  // A 1 px line has no interior: its own pixels are the content.
  const line = makePixels(64, 48, (x, y) => (y === 20 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
  assert.equal(contentMask(line).reduce((a, v) => a + v, 0), 64);
  // An all-black (or almost) frame is judged whole.
  assert.equal(contentMask(makePixels(64, 48, () => [1, 1, 1, 255])).reduce((a, v) => a + v, 0), 64 * 48);
  // No empty pixels at all: everything is content, including the image border.
  assert.equal(contentMask(makePixels(8, 8, () => [10, 10, 10, 255])).reduce((a, v) => a + v, 0), 64);
});

test("auto on black: a well-exposed subject on a large black canvas is left alone, a dark scene with lamps is lifted", () => {
  let seed = 5;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  // A subject of mean luma ~0.5 filling 6% of the canvas.
  const product = makePixels(64, 48, (x, y) => (x >= 24 && x < 40 && y >= 18 && y < 30 ? [90 + x * 3, 120 + y, 140, 255] : [0, 0, 0, 255]));
  assert.ok(meanLuma(product) < 0.08, "as a whole it is almost black");
  assert.equal(autoStrength(exposureScore(product)), 0);
  assert.equal(autoStrength(exposureScore(product, new Uint8Array(64 * 48).fill(1))), 1, "counting the canvas would read it as dark");
  // A night scene: textured dark (luma 5-30), three bright lamps, a few clipped-black pixels.
  const night = makePixels(64, 48, (x, y) => {
    if ((x - 10) ** 2 + (y - 10) ** 2 < 6 || (x - 40) ** 2 + (y - 8) ** 2 < 6 || (x - 55) ** 2 + (y - 30) ** 2 < 6) return [255, 240, 200, 255];
    if (rnd() < 0.05) return [0, 0, 0, 255];
    const v = 5 + 25 * rnd() * (y / 48);
    return [v, v * 0.9, v * 0.8, 255];
  });
  assert.equal(autoStrength(exposureScore(night)), 1);
});

test("the cap: auto stops brightening at the target mean; a result already under it keeps its strength", () => {
  const img = makePixels(32, 24, (x, y) => [50 + x, 50 + y, 60, 255]); // mean luma ~0.24
  const lift = maps(3, 4, 3, () => -1); // the strongest curve: 8 doublings of the distance to 1
  const full = meanLuma(applyCurves(img, lift, 8, 1, new Uint8Array(img.data.length)));
  assert.ok(full > 0.9, `uncapped ${full}`);
  const s = capStrength(img, lift, 8, 1);
  assert.ok(s > 0 && s < 1, `strength ${s}`);
  const capped = meanLuma(applyCurves(img, lift, 8, s, new Uint8Array(img.data.length)));
  assert.ok(capped <= AUTO_MAX_MEAN + 1e-9 && capped > AUTO_MAX_MEAN - 0.02, `capped mean ${capped}`);
  assert.ok(Math.abs(Math.round(s * 100) - s * 100) < 1e-9, "two decimals, as X-Enhance-Strength reports it");
  // A gentle curve that stays under the target is not touched; nor is strength 0.
  const gentle = maps(3, 4, 3, () => -0.1);
  assert.equal(capStrength(img, gentle, 8, 0.8), 0.8);
  assert.equal(capStrength(img, lift, 8, 0), 0);
  // An image already over the target gets nothing.
  assert.equal(capStrength(makePixels(8, 8, () => [150, 150, 150, 255]), lift, 8, 1), 0);
});

test("the lift: a night the model's curves leave too dark is lifted to the floor; others keep their strength", () => {
  // A dark scene (luma ~0.04-0.1) and gentle curves that leave it well under the floor.
  const night = makePixels(48, 32, (x, y) => [10 + (x % 7) * 2, 12 + (y % 5) * 3, 14, 255]);
  const gentle = maps(3, 4, 3, () => -0.3);
  const mask = contentMask(night);
  const before = contentBrightness(applyCurves(night, gentle, 8, 1, new Uint8Array(night.data.length)), mask);
  assert.ok(before < AUTO_MIN_MEAN - 0.05, `strength 1 leaves ${before}`);
  const s = liftStrength(night, gentle, 8, 1);
  assert.ok(s > 1 && s <= AUTO_MAX_LIFT, `lifted strength ${s}`);
  assert.ok(Math.abs(Math.round(s * 100) - s * 100) < 1e-9, "two decimals");
  const lifted = contentBrightness(applyCurves(night, gentle, 8, s, new Uint8Array(night.data.length)), mask);
  const justUnder = contentBrightness(applyCurves(night, gentle, 8, s - 0.01, new Uint8Array(night.data.length)), mask);
  assert.ok(lifted >= AUTO_MIN_MEAN && justUnder < AUTO_MIN_MEAN, `the smallest strength that reaches the floor: ${justUnder} at ${s - 0.01}, ${lifted} at ${s}`);
  // Bounded: a floor out of reach stops at the most lift allowed.
  assert.equal(liftStrength(night, maps(3, 4, 3, () => 0), 8, 1, 0.99, 1.3), 1.3);
  // Curves that already reach the floor, a strength chosen below 1 (a half-dark photo, the cap), and lift off: unchanged.
  assert.equal(liftStrength(night, maps(3, 4, 3, () => -1), 8, 1), 1);
  assert.equal(liftStrength(night, gentle, 8, 0.6), 0.6);
  assert.equal(liftStrength(night, gentle, 8, 1, AUTO_MIN_MEAN, 1), 1);
});

test("boundStrength is the cap then the lift, with the bounds passed on", () => {
  const bright = makePixels(32, 24, (x, y) => [50 + x, 50 + y, 60, 255]);
  const night = makePixels(48, 32, (x, y) => [10 + (x % 7) * 2, 12 + (y % 5) * 3, 14, 255]);
  const cases: Array<[ReturnType<typeof makePixels>, CurveMaps, number]> = [
    [bright, maps(3, 4, 3, () => -1), 1], // capped
    [night, maps(3, 4, 3, () => -0.3), 1], // lifted
    [bright, maps(3, 4, 3, () => -0.1), 0.8], // neither
    [night, maps(3, 4, 3, () => -0.3), 0], // off
  ];
  for (const [img, m, s] of cases) {
    assert.equal(boundStrength(img, m, 8, s), liftStrength(img, m, 8, capStrength(img, m, 8, s)));
    assert.equal(
      boundStrength(img, m, 8, s, { maxMean: 0.5, minMean: 0.3, maxLift: 1.2 }),
      liftStrength(img, m, 8, capStrength(img, m, 8, s, 0.5), 0.3, 1.2),
    );
  }
  assert.ok(boundStrength(bright, maps(3, 4, 3, () => -1), 8, 1) < 1);
  assert.ok(boundStrength(night, maps(3, 4, 3, () => -0.3), 8, 1) > 1);
});

test("the cap: under coloured light the cap holds the mean RGB too, not only the luma", () => {
  // Magenta light: red and blue well lit, green dim, so luma (mostly green) reads darker than the channels.
  const img = makePixels(32, 24, (x, y) => [40 + x, 8 + (y >> 2), 45 + y, 255]);
  const lift = maps(3, 4, 3, () => -1);
  const s = capStrength(img, lift, 8, 1);
  const out = applyCurves(img, lift, 8, s, new Uint8Array(img.data.length));
  const rgb = contentBrightness(out);
  const luma = meanLuma(out);
  assert.ok(luma < rgb - 0.05, `the case must separate the two measures (luma ${luma}, brightness ${rgb})`);
  assert.ok(rgb <= AUTO_MAX_MEAN + 1e-9 && rgb > AUTO_MAX_MEAN - 0.03, `capped brightness ${rgb}`);
  // contentBrightness is the mean RGB here, and the luma on a gray image.
  let sum = 0;
  for (let i = 0; i < out.data.length; i += 4) sum += out.data[i]! + out.data[i + 1]! + out.data[i + 2]!;
  assert.ok(Math.abs(rgb - sum / (out.data.length / 4) / 3 / 255) < 1e-12);
  const gray = makePixels(4, 4, () => [100, 100, 100, 255]);
  assert.ok(Math.abs(contentBrightness(gray) - meanLuma(gray)) < 1e-3);
});
