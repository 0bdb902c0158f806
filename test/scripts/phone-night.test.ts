/** The phone-night set's simulation (scripts/lib/phone-night.ts) and its colour-noise figure (metrics.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { drawShot, nightShot } from "../../scripts/lib/phone-night.ts";
import { chromaNoise, chromaNoiseRatio, meanBrightness } from "../../scripts/lib/metrics.ts";
import { makePixels } from "../helpers/fixtures.ts";

const clean = makePixels(96, 64, (x, y) => [80 + x, 120 + (y % 16) * 4, 200 - x, 255]);

test("a night shot is dark by its exposure, noisy, reproducible for a seed, and different for another", () => {
  const shot = drawShot(5);
  assert.ok(shot.exposure >= 0.03 && shot.exposure <= 0.12);
  const a = nightShot(clean, shot, 9);
  const b = nightShot(clean, shot, 9);
  assert.deepEqual(a.data, b.data, "same seed, same pixels");
  assert.notDeepEqual(nightShot(clean, shot, 10).data, a.data);
  // Underexposed in linear light: 3-12 % of the light is about 20-40 % of the sRGB level.
  const ratio = meanBrightness(a) / meanBrightness(clean);
  assert.ok(ratio > 0.12 && ratio < 0.5, `brightness ratio ${ratio.toFixed(3)}`);
  assert.ok(a.data.every((v, i) => i % 4 !== 3 || v === 255), "opaque");
});

test("chroma noise: none on a flat image, 1 against itself, more with colour speckle", () => {
  assert.ok(chromaNoise(makePixels(10, 10, () => [100, 50, 20, 255])) < 1e-20, "floating-point zero");
  assert.equal(chromaNoiseRatio(clean, clean), 1);
  let s = 1;
  const speckled = makePixels(96, 64, (x, y) => {
    s = (s * 16807) % 2147483647;
    const [r, g, b] = [80 + x, 120 + (y % 16) * 4, 200 - x];
    const n = (s % 21) - 10;
    return [r + n, g, b - n, 255];
  });
  assert.ok(chromaNoiseRatio(speckled, clean) > 2, `${chromaNoiseRatio(speckled, clean)}`);
  // Grey noise (the same in R, G and B) is luma, not chroma.
  const grey = makePixels(96, 64, (x, y) => {
    const n = ((x * 7 + y * 13) % 9) - 4;
    return [80 + x + n, 120 + (y % 16) * 4 + n, 200 - x + n, 255];
  });
  assert.ok(chromaNoiseRatio(grey, clean) < 1.01, `${chromaNoiseRatio(grey, clean)}`);
});
