import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeEngine, DEFAULT_MODEL } from "../../scripts/lib/node-engine.ts";
import { parseModel, serializeModel } from "../../scripts/onnx/build-graph.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import { AUTO_MAX_LIFT, AUTO_MAX_MEAN, AUTO_MIN_MEAN, autoStrength, contentBrightness, EXPOSURE_SIZE, exposureScore, STRONG_MAX_MEAN } from "../../src/image/auto-strength.ts";
import { MAX_STRENGTH } from "../../src/image/curves.ts";
import { areaDownscale, estimationDims } from "../../src/image/resize.ts";
import { HttpError } from "../../src/shared/errors.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import { darkGradient, makePixels, rawPng, withExifOrientation, meanLuma709 as meanLuma } from "../helpers/fixtures.ts";

// The deployed model in model/ (part of the repository).
const engine = await createNodeEngine();
const untrained = engine.model.version.includes("untrained");

const limits = { maxSourcePixels: 4_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 100_000 };
const base: PipelineOptions = { fit: "scale-down", format: "png", quality: 85, strength: 1, mode: "fast", orient: true, limits };
const opts = (o: Partial<PipelineOptions>): PipelineOptions => ({ ...base, ...o });

async function rejects(p: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof HttpError && e.status === status && e.code === code);
}

const dark = darkGradient(200, 100);
const darkPng = await encode(dark, "png");

test("engine reads its model's metadata and hash", () => {
  assert.match(engine.model.sha256, /^[0-9a-f]{64}$/);
  assert.ok(engine.model.estimationSize > 0 && engine.model.iterations === 8);
  assert.ok([1, 8].includes(engine.model.curveMaps));
});

test("output size per fit", async () => {
  const cases: [Partial<PipelineOptions>, number, number][] = [
    [{}, 200, 100],
    [{ width: 50 }, 50, 25],
    [{ height: 50 }, 100, 50],
    [{ width: 400 }, 200, 100], // scale-down never enlarges
    [{ width: 400, fit: "contain" }, 400, 200],
    [{ width: 80, height: 80 }, 80, 40],
    [{ width: 80, height: 80, fit: "contain" }, 80, 40],
    [{ width: 300, height: 300, fit: "contain" }, 300, 150],
    [{ width: 80, height: 80, fit: "cover" }, 80, 80],
    [{ width: 300, height: 60, fit: "cover" }, 300, 60],
  ];
  for (const [o, w, h] of cases) {
    const r = await engine.enhance(darkPng, opts({ strength: 0, ...o }));
    const back = await decode(r.bytes, "png");
    assert.deepEqual([r.width, r.height, back.width, back.height], [w, h, w, h], JSON.stringify(o));
  }
});

test("cover crops the centre", async () => {
  // Left quarter red, middle half green, right quarter blue: a square cover keeps only green.
  const img = makePixels(200, 100, (x) => (x < 50 ? [255, 0, 0, 255] : x < 150 ? [0, 255, 0, 255] : [0, 0, 255, 255]));
  const r = await engine.enhance(await encode(img, "png"), opts({ strength: 0, width: 40, height: 40, fit: "cover" }));
  const out = await decode(r.bytes, "png");
  for (const x of [0, 20, 39]) assert.deepEqual([...out.data.subarray((20 * 40 + x) * 4, (20 * 40 + x) * 4 + 4)], [0, 255, 0, 255]);
});

test("strength 0 returns the decoded PNG pixels untouched (model not run)", async () => {
  const img = makePixels(33, 17, (x, y) => [(x * 7) & 255, (y * 13) & 255, (x * y) & 255, 255 - x]);
  const r = await engine.enhance(await encode(img, "png"), opts({ strength: 0 }));
  assert.equal(r.strength, 0);
  assert.deepEqual((await decode(r.bytes, "png")).data, img.data);
});

test("enhancement runs in fast and full mode and changes a dark image", async () => {
  for (const mode of ["fast", "full"] as const) {
    const r = await engine.enhance(darkPng, opts({ mode }));
    const out = await decode(r.bytes, "png");
    assert.equal(r.strength, 1);
    const before = meanLuma(dark);
    const after = meanLuma(out);
    assert.ok(Number.isFinite(after) && after >= 0 && after <= 1);
    assert.notDeepEqual(out.data, dark.data, `${mode}: the curves changed nothing`);
    // A trained model brightens; the untrained bootstrap model only has to run.
    if (!untrained) assert.ok(after > before + 0.05, `${mode}: mean luma ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  }
});

test("strength auto: full for a dark image, none for a well-exposed one", async () => {
  const r = await engine.enhance(darkPng, opts({ strength: "auto", autoMaxMean: 1 }));
  assert.equal(r.strength, 1);
  // With the default cap the dark image is lifted, but to a well-lit level, not past AUTO_MAX_MEAN.
  const capped = await engine.enhance(darkPng, opts({ strength: "auto" }));
  const full = meanLuma(await decode(r.bytes, "png"));
  const cappedMean = meanLuma(await decode(capped.bytes, "png"));
  if (full > AUTO_MAX_MEAN + 0.02) {
    assert.ok(capped.strength > 0.3 && capped.strength < 1, `capped strength ${capped.strength}`);
    assert.ok(cappedMean <= AUTO_MAX_MEAN + 0.03 && cappedMean > meanLuma(dark) + 0.1, `mean ${meanLuma(dark)} -> ${cappedMean} (uncapped ${full})`);
  } else assert.equal(capped.strength, 1);
  const bright = makePixels(64, 48, (x, y) => [120 + x, 110 + y, 140, 255]);
  const b = await engine.enhance(await encode(bright, "png"), opts({ strength: "auto" }));
  assert.equal(b.strength, 0);
  assert.deepEqual((await decode(b.bytes, "png")).data, bright.data);
});

test("strength auto lifts a night the model's full curves leave too dark, past them, to a well-lit night", async () => {
  // A very dark, noisy scene (mean luma ~0.04): the kind of input the network under-lifts.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const night = makePixels(240, 160, (x, y) => {
    const v = 4 + 6 * Math.sin(x / 17) ** 2 + 4 * (y / 160) + 3 * rnd();
    return [v * 1.1, v, v * 0.9, 255];
  });
  const png = await encode(night, "png");
  const noLift = await engine.enhance(png, opts({ strength: "auto", autoMaxLift: 1 }));
  const lifted = await engine.enhance(png, opts({ strength: "auto" }));
  const plain = contentBrightness(await decode(noLift.bytes, "png"));
  const out = contentBrightness(await decode(lifted.bytes, "png"));
  assert.equal(noLift.strength, 1);
  if (plain < AUTO_MIN_MEAN - 0.02) {
    assert.ok(lifted.strength > 1 && lifted.strength <= AUTO_MAX_LIFT, `lifted strength ${lifted.strength}`);
    // Judged on the probe, which reads a little brighter than the full-size result (see AUTO_MIN_MEAN).
    assert.ok(out > plain && out >= AUTO_MIN_MEAN - 0.06 && out <= AUTO_MAX_MEAN, `content ${plain.toFixed(3)} at strength 1, ${out.toFixed(3)} lifted`);
  } else assert.equal(lifted.strength, 1, "a model that already reaches the floor is not lifted");
  // An explicit strength past 1 brightens further, up to the cap that keeps it a photo; past MAX_STRENGTH is refused.
  const more = await engine.enhance(png, opts({ strength: 1.5 }));
  assert.ok(more.strength > 1 && more.strength <= 1.5, `strength 1.5 applied as ${more.strength}`);
  const moreMean = contentBrightness(await decode(more.bytes, "png"));
  assert.ok(moreMean > plain && moreMean <= STRONG_MAX_MEAN + 0.03, `content ${plain.toFixed(3)} at strength 1, ${moreMean.toFixed(3)} at 1.5`);
  await rejects(engine.enhance(png, opts({ strength: 2.5 })), 400, "bad_parameter");
});

test("every strength up to the maximum is a photo: brighter with the strength, capped before white", async () => {
  // A dark scene with a lamp-lit area: strong curves would turn most of it white.
  const scene = makePixels(240, 160, (x, y) => {
    const lamp = Math.max(0, 1 - Math.hypot(x - 60, y - 50) / 70);
    const v = 5 + 8 * Math.sin(x / 23) ** 2 + 5 * (y / 160) + 60 * lamp;
    return [v * 1.05, v, v * 0.85, 255];
  });
  const png = await encode(scene, "png");
  let last = -1;
  for (const strength of [1, 1.25, 1.5, 1.75, MAX_STRENGTH]) {
    const r = await engine.enhance(png, opts({ strength }));
    const out = await decode(r.bytes, "png");
    const mean = contentBrightness(out);
    assert.ok(r.strength >= 1 && r.strength <= strength, `strength ${strength} applied as ${r.strength}`);
    assert.ok(mean >= last - 0.002, `brighter with the strength: ${last.toFixed(3)} then ${mean.toFixed(3)} at ${strength}`);
    // Judged on the probe, which reads a little brighter than the full-size result.
    assert.ok(mean <= STRONG_MAX_MEAN + 0.03, `content ${mean.toFixed(3)} at strength ${strength}`);
    let white = 0;
    for (let p = 0; p < out.data.length; p += 4) if (Math.min(out.data[p]!, out.data[p + 1]!, out.data[p + 2]!) >= 250) white++;
    assert.ok(white < 0.2 * out.width * out.height, `${((100 * white) / (out.width * out.height)).toFixed(1)}% white at strength ${strength}`);
    last = mean;
  }
  if (!untrained) assert.ok(last > contentBrightness(await decode((await engine.enhance(png, opts({ strength: 1 }))).bytes, "png")) + 0.02, "the top of the scale is brighter than 1");
});

test("strength auto reads the exposure on a 64 px copy, whatever the model's estimation size", async () => {
  // Small bright squares on a dim scene: how bright the photo reads depends on the scale it is
  // looked at (a coarse copy blurs the squares into the background), so this tells the copies apart.
  const img = makePixels(320, 240, (x, y) => (x % 20 < 6 && y % 20 < 6 ? [240, 240, 240, 255] : [60 + (x >> 5), 60, 60 + (y >> 5), 255]));
  const strengthAt = (size: number): number => {
    const e = estimationDims(img.width, img.height, size);
    return autoStrength(exposureScore(areaDownscale(img, e.width, e.height)));
  };
  const expected = strengthAt(EXPOSURE_SIZE);
  assert.ok(expected > 0.2 && expected < 0.9, `a strength between none and full (got ${expected})`);
  // The fixture discriminates: scored on the estimation copies themselves, the strengths differ.
  assert.ok(Math.abs(strengthAt(16) - expected) > 0.1 && Math.abs(strengthAt(128) - expected) > 0.1);

  const png = await encode(img, "png");
  const dir = mkdtempSync(join(tmpdir(), "lowlight-estimation-"));
  try {
    for (const size of [16, 128]) {
      // The shipped model with only its estimation size changed.
      const model = parseModel(new Uint8Array(readFileSync(DEFAULT_MODEL)));
      const entry = model.metadataProps.find((p) => p.key === "lowlight.estimation_size");
      assert.ok(entry, "the model declares its estimation size");
      entry.value = String(size);
      const file = join(dir, `estimation-${size}.onnx`);
      writeFileSync(file, serializeModel(model));
      const other = await createNodeEngine(file);
      assert.equal(other.model.estimationSize, size);
      // The cap off: the strength the score alone gives (the cap depends on each model's curves).
      const r = await other.enhance(png, opts({ strength: "auto", autoMaxMean: 1 }));
      assert.equal(r.strength, expected, `estimation size ${size}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal((await engine.enhance(png, opts({ strength: "auto", autoMaxMean: 1 }))).strength, expected);
});

test("EXIF orientation 6 rotates a JPEG upright; orient=false keeps it as stored", async () => {
  // Stored 64x32: left half red, right half blue. Rotated 90 degrees clockwise, red ends on top.
  const stored = makePixels(64, 32, (x) => (x < 32 ? [220, 20, 20, 255] : [20, 20, 220, 255]));
  const jpeg = withExifOrientation(await encode(stored, "jpeg", { quality: 95 }), 6);
  const r = await engine.enhance(jpeg, opts({ strength: 0, format: "png" }));
  assert.deepEqual([r.width, r.height], [32, 64]);
  const out = await decode(r.bytes, "png");
  const px = (x: number, y: number) => [...out.data.subarray((y * 32 + x) * 4, (y * 32 + x) * 4 + 3)];
  const isRed = (p: number[]) => p[0]! > 180 && p[2]! < 60;
  const isBlue = (p: number[]) => p[2]! > 180 && p[0]! < 60;
  assert.ok(isRed(px(16, 8)) && isRed(px(2, 2)), "top is red");
  assert.ok(isBlue(px(16, 56)) && isBlue(px(29, 61)), "bottom is blue");
  const kept = await engine.enhance(jpeg, opts({ strength: 0, orient: false }));
  assert.deepEqual([kept.width, kept.height], [64, 32]);
  // Orientation 8 puts red at the bottom.
  const r8 = await decode((await engine.enhance(withExifOrientation(await encode(stored, "jpeg", { quality: 95 }), 8), opts({ strength: 0 }))).bytes, "png");
  assert.ok(r8.data[(60 * 32 + 16) * 4]! > 180);
});

test("alpha is kept for PNG and flattened onto white for JPEG", async () => {
  const img = makePixels(16, 16, (x) => [0, 0, 0, x < 8 ? 0 : 255]);
  const png = await decode((await engine.enhance(await encode(img, "png"), opts({ strength: 0 }))).bytes, "png");
  assert.equal(png.data[3], 0);
  assert.equal(png.data[15 * 4 + 3], 255);
  const jpg = await decode((await engine.enhance(await encode(img, "png"), opts({ strength: 0, format: "jpeg" }))).bytes, "jpeg");
  assert.ok(jpg.data[(8 * 16 + 1) * 4]! > 240, "transparent black becomes white");
  assert.ok(jpg.data[(8 * 16 + 14) * 4]! < 15, "opaque black stays black");
  const enhanced = await decode((await engine.enhance(await encode(img, "png"), opts({ strength: 1 }))).bytes, "png");
  assert.equal(enhanced.data[3], 0, "curves leave alpha alone");
});

test("grayscale and 16-bit PNGs decode (to 8-bit RGBA) and enhance", async () => {
  const gray = rawPng(4, 2, 8, 0, [new Uint8Array([10, 20, 30, 40]), new Uint8Array([50, 60, 70, 80])]);
  const g = await decode((await engine.enhance(gray, opts({ strength: 0 }))).bytes, "png");
  assert.deepEqual([...g.data.subarray(0, 8)], [10, 10, 10, 255, 20, 20, 20, 255]);
  const rgb16 = rawPng(1, 1, 16, 2, [new Uint8Array([0x12, 0x34, 0xab, 0xcd, 0xff, 0xff])]);
  const c = await decode((await engine.enhance(rgb16, opts({ strength: 0 }))).bytes, "png");
  assert.deepEqual([...c.data], [0x12, 0xab, 0xff, 255]);
  await engine.enhance(gray, opts({ strength: 1 }));
});

test("tiny images (1x1, 1xN) go through the model", async () => {
  for (const [w, h] of [[1, 1], [1, 9], [300, 1]]) {
    const r = await engine.enhance(await encode(darkGradient(w!, h!), "png"), opts({}));
    assert.deepEqual([r.width, r.height], [w, h]);
  }
  await rejects(engine.enhance(darkPng, opts({ quality: 0 })), 400, "bad_parameter");
  await rejects(engine.enhance(darkPng, opts({ width: 0 })), 400, "bad_parameter");
  await rejects(engine.enhance(darkPng, opts({ strength: 2.01 })), 400, "bad_parameter");
});

test("JPEG in, JPEG out; concurrent requests are serialised safely", async () => {
  const jpeg = await encode(darkGradient(120, 90), "jpeg", { quality: 90 });
  const rs = await Promise.all([1, 0.5, 0, "auto" as const].map((strength) => engine.enhance(jpeg, opts({ strength, format: "jpeg" }))));
  for (const r of rs) {
    assert.equal(r.format, "jpeg");
    assert.deepEqual([r.bytes[0], r.bytes[1]], [0xff, 0xd8]);
    assert.deepEqual([r.width, r.height], [120, 90]);
  }
});

test("a photo over the output limit with no size asked for is served at the largest size allowed; an explicit size over it is a 422 naming that size", async () => {
  const small = { ...limits, maxOutputPixels: 5000 };
  const r = await engine.enhance(darkPng, opts({ limits: small }));
  assert.deepEqual(r.scaledFrom, { width: 200, height: 100 });
  assert.ok(r.width * r.height <= 5000, `${r.width}x${r.height}`);
  assert.ok(r.width * r.height > 5000 * 0.97, `the largest that fits: ${r.width}x${r.height}`);
  assert.ok(Math.abs(r.width / r.height - 2) < 0.05, `aspect kept: ${r.width}x${r.height}`);
  assert.equal((await engine.enhance(darkPng, base)).scaledFrom, undefined, "not scaled within the limit");
  const refused = await engine.enhance(darkPng, opts({ width: 150, limits: small })).then(
    () => assert.fail("resolved"),
    (e: HttpError) => e,
  );
  assert.equal(refused.status, 422);
  assert.equal(refused.param, "w");
  assert.match(refused.message, /the largest output is 100x50 \(w=100 or h=50/);
});

test("refusals: 415 unknown format, 422 undecodable, 422 over the pixel budgets (before decoding)", async () => {
  await rejects(engine.enhance(new Uint8Array([0x49, 0x49, 42, 0, 8, 0, 0, 0, 0, 0]), base), 415, "unsupported_media_type"); // TIFF
  const broken = darkPng.slice();
  for (let i = 40; i < broken.length; i++) broken[i] = (i * 31) & 255;
  await rejects(engine.enhance(broken, base), 422, "undecodable");
  const jpeg = await encode(dark, "jpeg");
  const brokenJpeg = jpeg.slice();
  for (let i = 200; i < brokenJpeg.length - 2; i++) brokenJpeg[i] = (i * 31) & 255;
  await rejects(engine.enhance(brokenJpeg, base), 422, "undecodable");
  // A header declaring 50000x50000 with no pixel data: refused from the header alone.
  await rejects(engine.enhance(rawPng(50000, 50000, 8, 6, [], false), base), 422, "too_many_pixels");
  await rejects(engine.enhance(darkPng, opts({ width: 4000, height: 4000, fit: "contain" })), 422, "too_many_pixels");
  await rejects(engine.enhance(darkPng, opts({ mode: "full", limits: { ...limits, maxFullModePixels: 10_000 } })), 422, "too_many_pixels");
  // A source too large is the source's fault; an output too large names the parameter that would fix it.
  const paramOf = (p: Promise<unknown>) => p.then(() => assert.fail("resolved"), (e: HttpError) => e.param);
  assert.equal(await paramOf(engine.enhance(rawPng(50000, 50000, 8, 6, [], false), base)), undefined);
  assert.equal(await paramOf(engine.enhance(darkPng, opts({ width: 4000, height: 4000, fit: "contain" }))), "w");
  assert.equal(await paramOf(engine.enhance(darkPng, opts({ mode: "full", limits: { ...limits, maxFullModePixels: 10_000 } }))), "mode");
  // mode=full with strength 0 does not run the model, so its limit does not apply.
  await engine.enhance(darkPng, opts({ mode: "full", strength: 0, limits: { ...limits, maxFullModePixels: 10_000 } }));
  // The engine still works after all of that.
  assert.equal((await engine.enhance(darkPng, base)).width, 200);
});

test("a strip longer than a format can store: WebP's 16383 px side is a 422 naming format; format=auto takes PNG", async () => {
  const strip = await encode(makePixels(20, 17000, (x, y) => [(x * 9) % 256, (y * 7) % 256, 90, 255]), "png");
  await assert.rejects(engine.enhance(strip, opts({ format: "webp", strength: 0 })), (e: unknown) =>
    e instanceof HttpError && e.status === 422 && e.param === "format" && /WEBP output is at most 16383 pixels on a side; this one is 20x17000/.test(e.message));
  const auto = await engine.enhance(strip, opts({ format: "webp", strength: 0, avifFallback: true }));
  assert.equal(auto.format, "png");
  assert.deepEqual([auto.width, auto.height], [20, 17000]);
  // Within the side, WebP as asked.
  const short = await engine.enhance(await encode(makePixels(20, 16000, () => [10, 20, 30, 255]), "png"), opts({ format: "webp", strength: 0 }));
  assert.equal(short.format, "webp");
});
