import { test } from "node:test";
import assert from "node:assert/strict";
import { desaturateFloor, FLOOR_REACH } from "../../src/image/floor.ts";
import { lumaFixed } from "../../src/image/luma.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { applyCurvesWasm, initPixels } from "../../src/image/pixels.ts";
import { applyCurves, type CurveMaps } from "../../src/image/curves.ts";
import { mulberry32 } from "../../src/shared/rng.ts";

initPixels(readFileSync(fileURLToPath(new URL("../../src/image/pixels.wasm", import.meta.url))));
import type { RgbaImage } from "../../src/shared/image.ts";

/** Every 8-bit RGB triple whose channels are all under `max`, one per pixel. */
function allDark(max: number): RgbaImage {
  const px: number[] = [];
  for (let r = 0; r < max; r++) for (let g = 0; g < max; g++) for (let b = 0; b < max; b++) px.push(r, g, b, 200);
  return { width: px.length / 4, height: 1, data: Uint8Array.from(px) };
}

const luma = (r: number, g: number, b: number): number => 0.2126 * r + 0.7152 * g + 0.0722 * b;
const spread = (r: number, g: number, b: number): number => Math.max(r, g, b) - Math.min(r, g, b);

test("pixels at the noise floor lose their colour, keep their luma; from FLOOR_REACH up nothing changes", () => {
  const img = allDark(40);
  const out = { ...img, data: img.data.slice() };
  const changed = desaturateFloor(out);
  assert.ok(changed > 0);
  let n = 0;
  for (let p = 0; p < img.data.length; p += 4) {
    const [r, g, b] = [img.data[p]!, img.data[p + 1]!, img.data[p + 2]!];
    const [r2, g2, b2] = [out.data[p]!, out.data[p + 1]!, out.data[p + 2]!];
    assert.equal(out.data[p + 3], img.data[p + 3], "alpha is kept");
    if (lumaFixed(r, g, b) >= FLOOR_REACH || (r === g && g === b)) {
      assert.deepEqual([r2, g2, b2], [r, g, b], `(${r}, ${g}, ${b}) is left as it is`);
      continue;
    }
    n++;
    // Luma within rounding; colour never grows, and halves or more by half the reach.
    assert.ok(Math.abs(luma(r2, g2, b2) - luma(r, g, b)) <= 1, `(${r}, ${g}, ${b}) -> (${r2}, ${g2}, ${b2}): luma kept`);
    assert.ok(spread(r2, g2, b2) <= spread(r, g, b) + 1, `(${r}, ${g}, ${b}) -> (${r2}, ${g2}, ${b2}): no more colour`);
    if (lumaFixed(r, g, b) <= FLOOR_REACH / 2 && spread(r, g, b) >= 4) {
      assert.ok(spread(r2, g2, b2) <= spread(r, g, b) * 0.5 + 1, `(${r}, ${g}, ${b}) -> (${r2}, ${g2}, ${b2}): at most half its colour`);
    }
  }
  assert.equal(changed, n, "the count is of the pixels with colour under the reach");
});

test("a gradient's colour fades in without a step: neighbouring luma levels keep neighbouring saturation", () => {
  // A green-tinted ramp from black: the share of colour kept grows monotonically with luma.
  const px: number[] = [];
  for (let v = 0; v < 60; v++) px.push(v, Math.round(v * 1.3) + 2, v, 255);
  const img: RgbaImage = { width: 60, height: 1, data: Uint8Array.from(px) };
  desaturateFloor(img);
  let last = -1;
  for (let v = 0; v < 60; v++) {
    const [r, g, b] = [img.data[4 * v]!, img.data[4 * v + 1]!, img.data[4 * v + 2]!];
    const kept = spread(r, g, b) / spread(px[4 * v]!, px[4 * v + 1]!, px[4 * v + 2]!);
    assert.ok(kept >= last - 0.34, `level ${v}: keeps ${kept.toFixed(2)} after ${last.toFixed(2)}`);
    last = kept;
  }
  assert.equal(last, 1);
});

test("the curves pass desaturates the floor first, with the JS reference's bytes, for any size and band", () => {
  let floored = 0;
  for (const [w, h, bandBytes] of [[1, 1, 0], [257, 3, 0], [300, 200, 0], [97, 61, 400], [7, 5, 28]] as const) {
    const rand = mulberry32(w * h);
    // Mostly dark, some grey, some bright: every branch, in groups of four and in a row's last 1-3.
    const data = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rand() < 0.1 ? (rand() * 256) | 0 : (rand() * 12) | 0));
    const maps = gentleMaps(5, 4);
    const options = { minPixels: 0, ...(bandBytes ? { bandBytes } : {}) };
    const js = { width: w, height: h, data: data.slice() }, fused = { width: w, height: h, data: data.slice() };
    floored += desaturateFloor(js);
    applyCurvesWasm(js, maps, 8, 1, js.data, "auto", options);
    applyCurvesWasm(fused, maps, 8, 1, fused.data, "auto", { ...options, floor: true });
    assert.ok(Buffer.from(js.data).equals(Buffer.from(fused.data)), `${w}x${h}, band ${bandBytes}: the same bytes`);
    // Images the JS curves take (below minPixels) are floored first too.
    const small = { width: w, height: h, data: data.slice() };
    applyCurvesWasm(small, maps, 8, 1, small.data, "auto", { minPixels: Infinity, floor: true });
    const ref = { width: w, height: h, data: data.slice() };
    desaturateFloor(ref);
    applyCurves(ref, maps, 8, 1, ref.data);
    assert.ok(Buffer.from(ref.data).equals(Buffer.from(small.data)), `${w}x${h}: the JS path floors too`);
  }
  assert.ok(floored > 10000, `${floored} pixels floored`);
  const img = { width: 2, height: 2, data: new Uint8Array(16) };
  assert.throws(() => applyCurvesWasm(img, gentleMaps(2, 2), 8, 1, new Uint8Array(16), "auto", { floor: true }), /in place/);
});

/** Curve maps that brighten a little, varying over the image. */
function gentleMaps(width: number, height: number): CurveMaps {
  const data = new Float32Array(3 * width * height);
  for (let i = 0; i < data.length; i++) data[i] = -0.3 - 0.4 * ((i * 7) % 11) / 11;
  return { width, height, channels: 3, data };
}
