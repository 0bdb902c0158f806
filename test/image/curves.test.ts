import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCurves, AUTO_MAX_LIFT, AUTO_MAX_MEAN, AUTO_MIN_MEAN, autoStrength, boundStrength, capStrength, contentBrightness, contentMask, exposureScore, liftStrength, meanLuma, strengthAffine, type CurveMaps } from "../../src/image/curves.ts";
import { makePixels } from "../fixtures/images.ts";

/** Maps with every channel of every iteration set from f(channel, x, y). */
function maps(channels: number, width: number, height: number, f: (c: number, x: number, y: number) => number): CurveMaps {
  const data = new Float32Array(channels * width * height);
  for (let c = 0; c < channels; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[(c * height + y) * width + x] = f(c, x, y);
  return { data, channels, width, height };
}
const curve = (x: number, r: number, n: number): number => {
  for (let i = 0; i < n; i++) x = x + r * (x * x - x);
  return x;
};
const byte = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);

test("r = 0 (or strength 0) leaves the image unchanged", () => {
  const img = makePixels(5, 4, (x, y) => [x * 40, y * 50, 200, 128]);
  const before = img.data.slice();
  applyCurves(img, maps(3, 2, 2, () => 0), 8, 1);
  assert.deepEqual(img.data, before);
  applyCurves(img, maps(3, 2, 2, () => -0.9), 8, 0);
  assert.deepEqual(img.data, before);
});

test("one pixel, one iteration: 0.2 with r = -1 becomes 0.2 + 0.16 = 0.36", () => {
  const img = makePixels(1, 1, () => [51, 51, 51, 255]); // 51/255 = 0.2
  applyCurves(img, maps(3, 1, 1, () => -1), 1, 1);
  assert.deepEqual([...img.data], [92, 92, 92, 255]); // round(0.36 * 255) = round(91.8)
});

test("eight iterations per channel, alpha untouched, strength scales r", () => {
  const img = makePixels(1, 1, () => [30, 100, 220, 77]);
  const r = [-0.8, 0.3, -0.5];
  const out = new Uint8Array(4);
  applyCurves(img, maps(3, 1, 1, (c) => r[c]!), 8, 0.5, out);
  assert.deepEqual([...out], [30, 100, 220].map((v, c) => byte(curve(v / 255, r[c]! * 0.5, 8))).concat(77));
});

test("one map per iteration (24 channels) equals one shared map when the maps agree", () => {
  const img = makePixels(6, 5, (x, y) => [x * 30, y * 40, 90, 255]);
  const f = (c: number, x: number, y: number) => -0.1 * ((c % 3) + 1) - 0.05 * x + 0.03 * y;
  const a = applyCurves(img, maps(3, 3, 2, f), 8, 1, new Uint8Array(img.data.length));
  const b = applyCurves(img, maps(24, 3, 2, f), 8, 1, new Uint8Array(img.data.length));
  assert.deepEqual(a.data, b.data);
  // ...and differs when iteration i has its own values.
  const c = applyCurves(img, maps(24, 3, 2, (ch) => (ch < 3 ? -0.9 : 0)), 8, 1, new Uint8Array(img.data.length));
  // Only iteration 1 has r != 0: green of pixel (1, 1) (40/255) gets exactly one step.
  assert.equal(c.data[(1 * 6 + 1) * 4 + 1], byte(curve(40 / 255, -0.9, 1)));
});

test("bilinear upsampling with align_corners=true: exact at grid points, averaged between", () => {
  // 3x3 maps onto a 5x5 image: map (i, j) lands on pixel (2i, 2j).
  const grid = [
    [-0.9, -0.5, -0.1],
    [-0.7, 0.0, 0.4],
    [-0.3, 0.2, 0.8],
  ];
  const m = maps(3, 3, 3, (_c, x, y) => grid[y]![x]!);
  const img = makePixels(5, 5, () => [128, 128, 128, 255]);
  applyCurves(img, m, 1, 1);
  const x0 = 128 / 255;
  const at = (px: number, py: number) => img.data[(py * 5 + px) * 4]!;
  for (let j = 0; j < 3; j++) for (let i = 0; i < 3; i++) assert.equal(at(2 * i, 2 * j), byte(curve(x0, grid[j]![i]!, 1)));
  // Midpoint between (0,0) and (1,0) of the maps, and the centre of four.
  assert.equal(at(1, 0), byte(curve(x0, (-0.9 + -0.5) / 2, 1)));
  assert.equal(at(1, 1), byte(curve(x0, (-0.9 + -0.5 + -0.7 + 0.0) / 4, 1)));
});

test("maps at image size are applied per pixel (mode=full); 1-pixel-wide images use the first column", () => {
  const img = makePixels(3, 1, () => [100, 100, 100, 255]);
  const r = [-1, 0, 0.5];
  applyCurves(img, maps(3, 3, 1, (_c, x) => r[x]!), 1, 1);
  assert.deepEqual([0, 1, 2].map((x) => img.data[x * 4]), r.map((v) => byte(curve(100 / 255, v, 1))));
  const thin = makePixels(1, 3, () => [100, 100, 100, 255]);
  applyCurves(thin, maps(3, 4, 4, (_c, x) => (x === 0 ? -1 : 0.9)), 1, 1);
  assert.equal(thin.data[0], byte(curve(100 / 255, -1, 1)));
});

test("mismatched maps are refused", () => {
  const img = makePixels(2, 2, () => [0, 0, 0, 255]);
  assert.throws(() => applyCurves(img, maps(6, 2, 2, () => 0), 8, 1), /channels/);
  assert.throws(() => applyCurves(img, { data: new Float32Array(5), channels: 3, width: 2, height: 2 }, 8, 1), /values/);
});

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
  assert.ok(Math.abs(meanLuma(makePixels(2, 1, () => [255, 255, 255, 255])) - 1) < 1e-12);
  assert.ok(Math.abs(meanLuma(makePixels(1, 1, () => [255, 0, 0, 255])) - 0.2126) < 1e-12);
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

test("capStrength: auto stops brightening at the target mean; a result already under it keeps its strength", () => {
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

test("strength past 1 blends r towards -1: brighter everywhere, still monotonic and in range; 2 is the strongest curve", () => {
  assert.deepEqual(strengthAffine(0.5), { scale: 0.5, offset: 0 });
  assert.deepEqual(strengthAffine(1.25), { scale: 0.75, offset: -0.25 });
  assert.deepEqual(strengthAffine(2), { scale: 0, offset: -1 });
  // A ramp of every byte value, with maps that darken (r > 0) on the left and brighten on the right.
  const img = makePixels(256, 2, (x) => [x, x, x, 255]);
  const m = maps(3, 2, 1, (_c, x) => (x === 0 ? 0.4 : -0.6));
  const at = (s: number) => applyCurves(img, m, 8, s, new Uint8Array(img.data.length), "exact").data;
  const one = at(1);
  for (const s of [1.2, 1.6, 2]) {
    const out = at(s);
    for (let i = 0; i < out.length; i += 4) {
      assert.ok(out[i]! >= one[i]!, `strength ${s} at byte ${img.data[i]}: ${out[i]} < ${one[i]} (strength 1)`);
      // Along the ramp the maps are smooth, so the curve must stay non-decreasing.
      if (i >= 4 && i % 1024 !== 0) assert.ok(out[i]! + 1 >= out[i - 4]!, `strength ${s} folds back at byte ${img.data[i]}`);
    }
  }
  // Strength 2 ignores the maps: r = -1 everywhere.
  const two = at(2);
  for (let i = 0; i < two.length; i += 4) assert.equal(two[i], byte(curve(img.data[i]! / 255, -1, 8)));
  // The table path gives the same within a level.
  const table = applyCurves(img, m, 8, 1.6, new Uint8Array(img.data.length)).data;
  const exact = at(1.6);
  for (let i = 0; i < table.length; i++) assert.ok(Math.abs(table[i]! - exact[i]!) <= 1, `table vs exact at ${i}`);
  assert.throws(() => at(2.5), /strength must be in 0\.\.2/);
});

test("liftStrength: a night the model's curves leave too dark is lifted to the floor; others keep their strength", () => {
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

test("capStrength: under coloured light the cap holds the mean RGB too, not only the luma", () => {
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

test("the lookup-table path for shared maps matches the exact iteration to within one level", () => {
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const img = makePixels(97, 61, () => [(rnd() * 256) | 0, (rnd() * 256) | 0, (rnd() * 256) | 0, 255]);
  const m = maps(3, 13, 9, () => rnd() * 2 - 1);
  for (const strength of [1, 0.6]) {
    const exact = applyCurves(img, m, 8, strength, new Uint8Array(img.data.length), "exact");
    const fast = applyCurves(img, m, 8, strength, new Uint8Array(img.data.length));
    let differing = 0;
    for (let i = 0; i < img.data.length; i++) {
      const d = Math.abs(exact.data[i]! - fast.data[i]!);
      assert.ok(d <= 1, `byte ${i}: ${exact.data[i]} vs ${fast.data[i]}`);
      if (d) differing++;
    }
    assert.ok(differing / img.data.length < 0.002, `${differing} bytes differ`);
  }
});
