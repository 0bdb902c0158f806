import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCurves, strengthAffine, type CurveMaps } from "../../src/image/curves.ts";
import { makePixels } from "../helpers/fixtures.ts";


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
