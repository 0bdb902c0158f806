import { test } from "node:test";
import assert from "node:assert/strict";
import { desaturateFloor, FLOOR_REACH } from "../../src/image/floor.ts";
import { lumaFixed } from "../../src/image/luma.ts";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { initPixels } from "../../src/image/pixels.ts";
import { desaturateFloorWasm } from "../../src/image/colour-kernels.ts";
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

test("the WASM pass gives the JS reference's bytes and count, for any size and band", () => {
  for (const [w, h, bandBytes] of [[1, 1, 0], [257, 3, 0], [300, 200, 0], [97, 61, 400]] as const) {
    const rand = mulberry32(w * h);
    // Mostly dark, some grey, some bright: every branch.
    const data = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rand() < 0.1 ? (rand() * 256) | 0 : (rand() * 12) | 0));
    const js = { width: w, height: h, data: data.slice() }, wasm = { width: w, height: h, data: data.slice() };
    const a = desaturateFloor(js);
    const b = desaturateFloorWasm(wasm, { minPixels: 0, ...(bandBytes ? { bandBytes } : {}) });
    assert.equal(b, a, `${w}x${h}: the same count`);
    assert.ok(Buffer.from(js.data).equals(Buffer.from(wasm.data)), `${w}x${h}, band ${bandBytes}: the same bytes`);
  }
});
