import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import { areaDownscale } from "../../src/image/resize.ts";
import { decodeWebpScaled, WebpError } from "../../src/image/webp-dec.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { mulberry32 } from "../../src/shared/rng.ts";
import { animatedWebp, scene, webp } from "../helpers/format-fixtures.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const wasmBytes = readFileSync(`${root}src/image/webp-dec.wasm`);
const compiled = new WebAssembly.Module(wasmBytes);
const engine = await createNodeEngine();

/** Mean and largest absolute byte difference. */
function diff(a: RgbaImage, b: RgbaImage): { mean: number; max: number } {
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let sum = 0, max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.data.length, max };
}

test("src/image/webp-dec.wasm is what scripts/wasm/webp/build.sh recorded, from the source it pins", () => {
  const record = JSON.parse(readFileSync(`${root}scripts/wasm/webp/build.json`, "utf8")) as Record<string, unknown>;
  assert.equal(createHash("sha256").update(wasmBytes).digest("hex"), record.outputSha256, "the committed .wasm is not the recorded build: run scripts/wasm/webp/build.sh");
  assert.equal(wasmBytes.length, record.outputBytes);
  const script = readFileSync(`${root}scripts/wasm/webp/build.sh`, "utf8");
  assert.ok(script.includes(`sha256=${String(record.sourceSha256)}`), "build.sh pins the source the record names");
  assert.match(String(record.source), /^http:\/\/deb\.debian\.org\/debian\/pool\/main\/libw\/libwebp\/libwebp_1\.5\.0\.orig\.tar\.gz$/);
});

test("each scale is the full-size decode, smaller: lossy, lossless and with alpha, sizes rounded up", async () => {
  for (const [label, img, opts] of [
    ["lossy", scene(203, 151), {}],
    ["lossless", scene(203, 151), { lossless: true }],
    ["lossy with alpha", scene(160, 97, true), {}],
  ] as const) {
    const file = await webp(img, opts);
    const full = await decode(file, "webp");
    assert.deepEqual(diff(decodeWebpScaled(compiled, file, 1), full), { mean: 0, max: 0 }, `${label}: at 1/1 libwebp's build and jSquash's give the same bytes`);
    for (const n of [2, 4, 8] as const) {
      const small = decodeWebpScaled(compiled, file, n);
      assert.deepEqual([small.width, small.height], [Math.ceil(img.width / n), Math.ceil(img.height / n)], `${label} at 1/${n}`);
      const d = diff(small, areaDownscale(full, small.width, small.height));
      assert.ok(d.mean < 1.5 && d.max < 48, `${label} at 1/${n} against the full decode averaged down: mean ${d.mean.toFixed(2)}, max ${d.max}`);
    }
  }
});

test("damaged WebPs are a WebpError with libwebp's reason, never a crash; the next decode works", async () => {
  const good = await webp(scene(120, 90));
  const expected = decodeWebpScaled(compiled, good, 2);
  const rand = mulberry32(3);
  const cases: Uint8Array[] = [animatedWebp(good, 120, 90), good.subarray(0, 40), good.subarray(0, good.length >> 1), new Uint8Array(64)];
  for (let k = 0; k < 40; k++) {
    const bad = good.slice();
    for (let j = 0; j < 4; j++) {
      const at = 30 + Math.floor(rand() * (bad.length - 30));
      bad[at] = bad[at]! ^ (1 << Math.floor(rand() * 8));
    }
    cases.push(bad);
  }
  let refused = 0;
  for (const bad of cases) {
    try {
      const img = decodeWebpScaled(compiled, bad, 2);
      assert.deepEqual([img.width, img.height], [60, 45], "what decodes has the scaled size");
    } catch (e) {
      assert.ok(e instanceof WebpError, `a WebpError, not ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused >= 4, `${refused} refused`);
  assert.throws(() => decodeWebpScaled(compiled, cases[0]!, 2), /an animation/);
  assert.throws(() => decodeWebpScaled(compiled, cases[2]!, 2), /truncated|corrupt/);
  assert.deepEqual(decodeWebpScaled(compiled, good, 2).data, expected.data);
});

test("the pipeline decodes a large WebP at the scale its thumbnail needs, and serves it like the full decode would", async () => {
  const img = scene(1600, 1200);
  const file = await webp(img);
  const decoded: Array<[number, number]> = [];
  const opts = { fit: "scale-down", format: "png", quality: 90, strength: 0, mode: "fast", orient: true, limits: { maxSourcePixels: 4e6, maxOutputPixels: 4e6, maxFullModePixels: 1e5 } } as const;
  const res = await engine.enhance(file, { ...opts, width: 200, probe: (stage, image) => void (stage === "decode" && decoded.push([image.width, image.height])) });
  assert.deepEqual(decoded, [[200, 150]], "decoded at 1/8: 200x150 covers a 200 px wide output");
  const out = await decode(res.bytes, "png");
  const viaFull = areaDownscale(await decode(file, "webp"), 200, 150);
  const d = diff(out, viaFull);
  assert.ok(d.mean < 1.5, `against the full decode averaged down: mean ${d.mean.toFixed(2)}, max ${d.max}`);
  // A size the full image is needed for decodes at full size, by jSquash's decoder as before.
  decoded.length = 0;
  await engine.enhance(file, { ...opts, probe: (stage, image) => void (stage === "decode" && decoded.push([image.width, image.height])) });
  assert.deepEqual(decoded, [[1600, 1200]]);
  assert.ok((await encode(out, "png")).length > 0);
});
