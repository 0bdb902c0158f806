/**
 * The memory bounds: the model runner's tiling is exact, codec heaps do not outlive their jobs,
 * large downscales and EXIF rotation give the same image as the direct way, PNG sources have their
 * own pixel limit.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createNodeEngine, DEFAULT_MODEL, ortModule } from "../../scripts/lib/node-engine.ts";
import { loadModel, TILE } from "../../src/engine/runtime.ts";
import { applyOrientation, sourceRect } from "../../src/image/orient.ts";
import { resizeImage, WASM_RESIZE_MAX_PIXELS } from "../../src/image/resize.ts";
import { darkScene, encodeJpeg, encodePng, initFixtures, paint } from "../helpers/fixtures.ts";
import { decode } from "../../src/image/codecs.ts";
import { POOL_MAX_BYTES, POOL_REQUEST_MAX_PIXELS, POOL_TOTAL_MAX_BYTES } from "../../src/image/instance-pool.ts";
import type { Engine } from "../../src/engine/engine.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";

let engine: Engine;
before(async () => {
  await initFixtures();
  engine = await createNodeEngine();
});

test("the model runs large inputs in tiles that stitch to exactly the untiled result", async () => {
  const wasm = await ortModule();
  const bytes = await readFile(DEFAULT_MODEL);
  const runner = await loadModel(wasm, new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  // A TILE x TILE input runs in one piece; compare it with the same input padded to force tiling.
  const W = TILE, H = TILE;
  const input = new Float32Array(3 * W * H).map((_, i) => ((i * 7919) % 1000) / 1000);
  const whole = await runner.run(input, W, H);
  const W2 = W + 40, H2 = H + 1; // bigger than one tile: the runner tiles it
  const big = new Float32Array(3 * W2 * H2);
  for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) big.set(input.subarray((c * H + y) * W, (c * H + y + 1) * W), (c * H2 + y) * W2);
  const tiled = await runner.run(big, W2, H2);
  assert.equal(tiled.width, W2);
  // Pixels farther than the receptive field (7) from the padding see identical inputs in both runs.
  let maxDiff = 0;
  for (let c = 0; c < whole.channels; c++) {
    for (let y = 0; y < H - 8; y++) {
      for (let x = 0; x < W - 8; x++) {
        maxDiff = Math.max(maxDiff, Math.abs(whole.data[(c * H + y) * W + x]! - tiled.data[(c * H2 + y) * W2 + x]!));
      }
    }
  }
  assert.ok(maxDiff < 1e-5, `tiled maps differ by ${maxDiff}`);
});

const limits = { maxSourcePixels: 4_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 300_000, maxPngSourcePixels: 5000 };
const opts = (o: Partial<PipelineOptions>): PipelineOptions => ({ fit: "scale-down", format: "png", quality: 90, strength: "auto", mode: "fast", orient: true, limits, ...o });

test("codec and resampler heaps do not outlive their jobs, but small JPEG instances are kept for the next; ORT's stays at its tile size, the kernels' at a few MB", async () => {
  const png = await encodePng(paint(60, 60, (x, y) => [x * 4, y * 4, 30]));
  await engine.enhance(png, opts({ mode: "full", strength: 1 }));
  let m = engine.memory();
  assert.equal(m.png, 0, "no PNG instance is held between requests");
  assert.ok(m.resize <= POOL_MAX_BYTES, `an idle resampler is small: ${m.resize}`);
  // The pixel kernels keep one instance per isolate, a few MB whatever the image size (bands).
  assert.ok(m.pixels <= 4 * 2 ** 20, `pixel kernels' memory ${m.pixels}`);
  assert.ok(m.ort > 0 && m.ort < 40 * 2 ** 20, `ORT heap ${m.ort}`);
  assert.ok(m.peak.png > 0, "the PNG codec's heap was measured");
  // libjpeg-turbo's idle decoder and encoder (jpeg-turbo.ts): small, kept to spare the next job
  // the page faults of a fresh memory.
  const jpeg = await encodeJpeg(darkScene(400, 300));
  await engine.enhance(jpeg, opts({ format: "jpeg" }));
  m = engine.memory();
  assert.ok(m.jpegDec > 0 && m.jpegDec <= POOL_MAX_BYTES, `idle JPEG decoder ${m.jpegDec}`);
  assert.ok(m.jpegEnc > 0 && m.jpegEnc <= POOL_MAX_BYTES, `idle JPEG encoder ${m.jpegEnc}`);
  // A request over POOL_REQUEST_MAX_PIXELS lets them go before it decodes; what it grew is not kept.
  const side = Math.ceil(Math.sqrt(POOL_REQUEST_MAX_PIXELS)) + 8;
  const large = await encodeJpeg(darkScene(side, side));
  let during = -1;
  await engine.enhance(large, opts({ format: "jpeg", probe: (stage) => (stage === "decode" ? (during = engine.memory().jpegEnc) : undefined) }));
  assert.equal(during, 0, "no idle encoder while a large request decodes");
  m = engine.memory();
  assert.ok(m.jpegDec <= POOL_MAX_BYTES && m.jpegEnc <= POOL_MAX_BYTES, `after it: ${m.jpegDec}, ${m.jpegEnc}`);
});

test("a reused codec or resampler instance gives what a fresh one gives, after other photos, sizes and a failed decode; idle ones stay within their total", async () => {
  const a = await encodeJpeg(darkScene(320, 200));
  const b = await encodeJpeg(paint(150, 260, (x, y) => [(x * 3) % 90, (y * 2) % 70, 40]));
  const bWebp = (await engine.enhance(b, opts({ format: "webp", strength: 0 }))).bytes;
  const jobs: [Uint8Array, Partial<PipelineOptions>][] = [[b, { format: "jpeg" }], [b, { format: "webp" }], [bWebp, { format: "jpeg" }], [bWebp, { format: "avif" }], [b, { format: "png", width: 70 }]];
  const first = [];
  for (const [input, o] of jobs) first.push((await engine.enhance(input, opts(o))).bytes);
  await engine.enhance(a, opts({ format: "jpeg", width: 100 }));
  await engine.enhance(a, opts({ format: "webp", width: 90 }));
  await assert.rejects(engine.enhance(a.slice(0, a.length >> 1), opts({ format: "jpeg" })), (e: { status?: number }) => e.status === 422);
  await engine.enhance(a, opts({ format: "jpeg" }));
  for (const [i, [input, o]] of jobs.entries()) {
    const again = await engine.enhance(input, opts(o));
    assert.ok(Buffer.from(again.bytes).equals(Buffer.from(first[i]!)), `job ${i} (${o.format}): the same bytes as on its first run`);
  }
  const m = engine.memory();
  const idle = m.jpegDec + m.jpegEnc + m.webpDec + m.webpEnc + m.avifDec + m.avifEnc + m.resize;
  assert.ok(idle > 0 && idle <= POOL_TOTAL_MAX_BYTES, `idle codec memory ${idle}`);
});

test("PNG sources above maxPngSourcePixels are refused with 422 before decoding", async () => {
  const png = await encodePng(paint(100, 60, () => [1, 2, 3]));
  await assert.rejects(engine.enhance(png, opts({})), (e: { status?: number; message?: string }) => e.status === 422 && /PNG source/.test(e.message ?? ""));
});

test("sourceRect maps an upright rectangle back to the stored orientation", () => {
  const img = paint(7, 5, (x, y) => [x, y, 0]);
  for (let o = 1; o <= 8; o++) {
    const up = applyOrientation(img, o);
    const rect = { x: 1, y: 2, width: 2, height: 3 };
    const src = sourceRect(rect, o, img.width, img.height);
    // Every pixel of the upright rectangle comes from inside the source rectangle.
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        const i = (y * up.width + x) * 4;
        const [sx, sy] = [up.data[i]!, up.data[i + 1]!];
        assert.ok(sx >= src.x && sx < src.x + src.width && sy >= src.y && sy < src.y + src.height, `orientation ${o}`);
      }
    }
    assert.equal(src.width * src.height, 6);
  }
});

test("a large downscale is pre-reduced in JS and still lands on the exact target size", async () => {
  const side = Math.ceil(Math.sqrt(WASM_RESIZE_MAX_PIXELS)) + 200;
  const img = paint(side, side, (x, y) => [(x >> 4) & 255, (y >> 4) & 255, 128]);
  const out = await resizeImage(img, 100, 100);
  assert.equal(out.width * out.height * 4, out.data.length);
  assert.deepEqual([out.width, out.height], [100, 100]);
  assert.ok(Math.abs(out.data[2]! - 128) <= 1, "flat channels stay flat");
});

test("a request gives back only the decoders it used: pixels a caller decoded itself stay intact", async () => {
  const held = await decode(await encodeJpeg(darkScene(200, 150)), "jpeg");
  const copy = held.data.slice();
  // A request that fails before decoding, then one that decodes: neither may reuse the caller's decoder.
  await assert.rejects(engine.enhance(await encodePng(paint(100, 60, () => [1, 2, 3])), opts({})), (e: { status?: number }) => e.status === 422);
  await engine.enhance(await encodeJpeg(darkScene(180, 140)), opts({ format: "jpeg" }));
  await engine.enhance(await encodeJpeg(darkScene(220, 120)), opts({ format: "jpeg" }));
  assert.equal(held.data.length, copy.length);
  assert.ok(Buffer.from(held.data).equals(Buffer.from(copy)), "the caller's pixels are unchanged");
});
