import { test } from "node:test";
import assert from "node:assert/strict";
import { initNodeCodecs } from "../../scripts/lib/node-engine.ts";
import { cropImage, estimationDims, fitSize, resizeImage } from "../../src/image/resize.ts";
import { makePixels } from "../helpers/fixtures.ts";

await initNodeCodecs();

test("fitSize: scale-down never enlarges, contain fits inside, cover fills and crops the centre", () => {
  assert.deepEqual(fitSize(400, 200, undefined, undefined, "scale-down"), { width: 400, height: 200, crop: { x: 0, y: 0, width: 400, height: 200 } });
  assert.equal(fitSize(400, 200, 100, undefined, "scale-down").height, 50);
  assert.equal(fitSize(400, 200, 800, undefined, "scale-down").width, 400);
  assert.equal(fitSize(400, 200, 800, undefined, "contain").height, 400);
  assert.deepEqual([fitSize(400, 200, 100, 100, "contain").width, fitSize(400, 200, 100, 100, "contain").height], [100, 50]);
  assert.deepEqual([fitSize(400, 200, 1000, 1000, "scale-down").width, fitSize(400, 200, 1000, 1000, "scale-down").height], [400, 200]);
  assert.deepEqual(fitSize(400, 200, 100, 100, "cover"), { width: 100, height: 100, crop: { x: 100, y: 0, width: 200, height: 200 } });
  assert.deepEqual(fitSize(400, 200, 400, 50, "cover").crop, { x: 0, y: 75, width: 400, height: 50 });
  // Extreme aspect ratios never produce a zero dimension.
  assert.equal(fitSize(10000, 1, 100, undefined, "scale-down").height, 1);
  assert.deepEqual(estimationDims(1000, 500, 128), { width: 128, height: 64 });
  assert.deepEqual(estimationDims(100, 50, 128), { width: 100, height: 50 });
});

test("area downscale averages exactly the covered source area (fractional overlaps included)", async () => {
  const blocks = makePixels(4, 2, (x, y) => [[0, 100, 10, 20][x]! + y * [200, 0, 20, 20][x]!, 0, 0, 255]);
  // Left 2x2 block: 0, 100, 200, 100 -> 100; right: 10, 20, 30, 40 -> 25.
  assert.deepEqual([...(await resizeImage(blocks, 2, 1, "area")).data], [100, 0, 0, 255, 25, 0, 0, 255]);
  // 3 -> 2: output 0 covers [0, 1.5): (0 + 0.5 * 90) / 1.5 = 30; output 1: (0.5 * 90 + 180) / 1.5 = 150.
  const three = makePixels(3, 1, (x) => [x * 90, 0, 0, 255]);
  assert.deepEqual([...(await resizeImage(three, 2, 1, "area")).data], [30, 0, 0, 255, 150, 0, 0, 255]);
  // A constant image stays constant at any size.
  const flat = makePixels(37, 23, () => [77, 88, 99, 255]);
  const small = await resizeImage(flat, 5, 3, "area");
  for (let i = 0; i < small.data.length; i += 4) assert.deepEqual([...small.data.subarray(i, i + 4)], [77, 88, 99, 255]);
  // Enlarging with "area" falls back to a WASM filter rather than failing.
  assert.equal((await resizeImage(flat, 40, 30, "area")).width, 40);
});

test("WASM resize: proper filters, same-size is a no-op returning the input", async () => {
  const img = makePixels(64, 32, (x) => [x < 32 ? 0 : 255, 0, 0, 255]);
  assert.equal(await resizeImage(img, 64, 32), img);
  const half = await resizeImage(img, 32, 16, "lanczos3");
  assert.deepEqual([half.width, half.height], [32, 16]);
  assert.ok(half.data[0]! < 5 && half.data[31 * 4]! > 250);
  await assert.rejects(resizeImage(img, 0, 5), /positive integers/);
});

test("cropImage copies the rectangle and refuses one outside the image", () => {
  const img = makePixels(5, 4, (x, y) => [x, y, 0, 255]);
  const c = cropImage(img, 1, 2, 3, 2);
  assert.deepEqual([c.width, c.height, c.data[0], c.data[1], c.data[(1 * 3 + 2) * 4], c.data[(1 * 3 + 2) * 4 + 1]], [3, 2, 1, 2, 3, 3]);
  assert.throws(() => cropImage(img, 3, 0, 3, 1), /outside/);
});

test("alpha is resized premultiplied: no dark fringe where an opaque shape meets transparent black", async () => {
  // White on the left half, fully transparent black on the right: every filter and path.
  const img = makePixels(64, 32, (x) => (x < 32 ? [255, 255, 255, 255] : [0, 0, 0, 0]));
  for (const [w, h] of [[31, 16], [7, 3], [100, 50]] as const) {
    const out = await resizeImage(img, w, h);
    for (let i = 0; i < out.data.length; i += 4) {
      const a = out.data[i + 3]!;
      if (a >= 8) assert.ok(out.data[i]! >= 250, `${w}x${h}: pixel ${i / 4} is ${out.data[i]} at alpha ${a}: a dark fringe`);
    }
    assert.ok([...out.data].some((v, i) => i % 4 === 3 && v > 0 && v < 255), `${w}x${h}: the edge is blended`);
  }
  // Opaque images take the same path as before: bytes unchanged by this.
  const opaque = makePixels(40, 20, (x, y) => [x * 6, y * 12, 100, 255]);
  const a = await resizeImage(opaque, 13, 7);
  const b = await resizeImage({ ...opaque, data: opaque.data.slice() }, 13, 7);
  assert.deepEqual(a.data, b.data);
});
