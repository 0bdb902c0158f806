/** A file cut off before its image ends is refused before decoding (src/image/complete.ts). */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { checkComplete } from "../../src/image/complete.ts";
import { HttpError } from "../../src/shared/errors.ts";
import { darkScene, encodeJpeg, encodePng, initFixtures } from "../helpers/fixtures.ts";
import { webp } from "../helpers/format-fixtures.ts";
import { jpegBoundaries, pngBoundaries } from "../helpers/hostile-images.ts";

before(() => initFixtures());

const refused = (bytes: Uint8Array, format: "jpeg" | "png" | "webp") => {
  try {
    checkComplete(bytes, format);
    return false;
  } catch (e) {
    assert.ok(e instanceof HttpError && e.status === 422 && e.code === "undecodable", String(e));
    assert.match(e.message, /truncated|no marker/);
    return true;
  }
};

test("a complete JPEG passes, with or without bytes after its end; every cut is refused", async () => {
  const jpeg = await encodeJpeg(darkScene(40, 24));
  assert.equal(refused(jpeg, "jpeg"), false);
  assert.equal(refused(new Uint8Array([...jpeg, 0, 1, 2, 3]), "jpeg"), false, "trailing bytes after EOI are not missing data");
  const cuts = new Set([...jpegBoundaries(jpeg).offsets, jpeg.length - 1, jpeg.length - 2]);
  for (let o = 3; o < jpeg.length; o += 7) cuts.add(o);
  for (const o of cuts) if (o >= 3 && o < jpeg.length) assert.equal(refused(jpeg.subarray(0, o), "jpeg"), true, `cut at ${o} of ${jpeg.length}`);
});

test("a complete PNG passes; a PNG cut anywhere before the end of IEND is refused", async () => {
  const png = await encodePng(darkScene(40, 24));
  assert.equal(refused(png, "png"), false);
  for (const o of [...pngBoundaries(png).offsets, png.length - 1]) {
    if (o >= 29 && o < png.length) assert.equal(refused(png.subarray(0, o), "png"), true, `cut at ${o} of ${png.length}`);
  }
});

test("a WebP shorter than its RIFF header says is refused", async () => {
  const w = await webp(darkScene(40, 24));
  assert.equal(refused(w, "webp"), false);
  for (const o of [20, 30, w.length >> 1, w.length - 1]) assert.equal(refused(w.subarray(0, o), "webp"), true, `cut at ${o}`);
});
