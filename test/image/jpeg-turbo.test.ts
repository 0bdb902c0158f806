/**
 * The libjpeg-turbo decoder: that the committed .wasm is what the recorded build made, that it decodes
 * what the encoder wrote (full size and at each DCT scale), that damaged files fail with libjpeg's own
 * message, and that a thumbnail of a large photo is decoded small (shrink-on-load) and looks the same.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createNodeEngine, initNodeCodecs } from "../../scripts/lib/node-engine.ts";
import { psnr } from "../../scripts/lib/metrics.ts";
import { codecMemory, decode, encode } from "../../src/image/codecs.ts";
import { decodeJpeg, JpegError, scaledSize, shrinkFactor } from "../../src/image/jpeg-turbo.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import { HttpError } from "../../src/shared/errors.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { makePixels } from "../helpers/fixtures.ts";
import { uniformJpeg } from "../helpers/hostile-images.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const wasmBytes = readFileSync(`${root}src/image/jpeg-turbo.wasm`);
const compiled = new WebAssembly.Module(wasmBytes);
await initNodeCodecs();

/** A photo-like test image: smooth shading, edges and fine texture, in colour. */
const scene = (w: number, h: number): RgbaImage =>
  makePixels(w, h, (x, y) => {
    const edge = x > w / 3 && y > h / 4 && y < (3 * h) / 4 ? 60 : 0;
    const t = 20 * Math.sin(x / 3) * Math.sin(y / 4);
    return [90 + 80 * (x / w) + edge + t, 70 + 90 * (y / h) + t, 140 - edge / 2 + t, 255];
  });

test("src/image/jpeg-turbo.wasm is what scripts/wasm/jpeg-turbo/build.sh recorded, from the source it pins", () => {
  const record = JSON.parse(readFileSync(`${root}scripts/wasm/jpeg-turbo/build.json`, "utf8")) as Record<string, unknown>;
  assert.equal(createHash("sha256").update(wasmBytes).digest("hex"), record.outputSha256, "the committed .wasm is not the recorded build: run scripts/wasm/jpeg-turbo/build.sh");
  assert.equal(wasmBytes.length, record.outputBytes);
  const script = readFileSync(`${root}scripts/wasm/jpeg-turbo/build.sh`, "utf8");
  assert.ok(script.includes(`sha256=${String(record.sourceSha256)}`), "build.sh pins the source the record names");
  assert.match(String(record.source), /^http:\/\/deb\.debian\.org\/debian\/pool\/main\/libj\/libjpeg-turbo\/libjpeg-turbo_2\.1\.5\.orig\.tar\.gz$/);
});

test("full-size decode gives back what the encoder wrote; each DCT scale is that image, smaller", async () => {
  const src = scene(203, 151);
  const jpeg = await encode(src, "jpeg", { quality: 95 });
  const full = decodeJpeg(compiled, jpeg, 1);
  assert.deepEqual([full.width, full.height], [203, 151]);
  assert.ok(psnr(full, src) > 30, `full size against the source: ${psnr(full, src).toFixed(1)} dB`);
  for (const n of [2, 4, 8] as const) {
    const small = decodeJpeg(compiled, jpeg, n);
    assert.deepEqual([small.width, small.height], [Math.ceil(203 / n), Math.ceil(151 / n)], `1/${n}`);
    assert.deepEqual(scaledSize(203, 151, n), { width: small.width, height: small.height });
    // Each pixel is the mean of its n x n block of the full-size decode, within a few levels.
    let err = 0, count = 0;
    for (let y = 0; y + 1 < small.height; y++) {
      for (let x = 0; x + 1 < small.width; x++) {
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let v = 0; v < n; v++) for (let u = 0; u < n; u++) s += full.data[4 * ((y * n + v) * 203 + x * n + u) + c]!;
          err += Math.abs(small.data[4 * (y * small.width + x) + c]! - s / (n * n));
          count++;
        }
      }
    }
    assert.ok(err / count < 3, `1/${n}: mean difference from the block means ${(err / count).toFixed(2)} levels`);
    for (let p = 3; p < small.data.length; p += 4) assert.equal(small.data[p], 255);
  }
});

test("grey, arithmetic-coded and restart-marked JPEGs decode; CMYK, 12-bit and damaged files fail with libjpeg's message", () => {
  const grey = decodeJpeg(compiled, uniformJpeg(24, 16, [77]), 2);
  assert.deepEqual([grey.width, grey.height], [12, 8]);
  assert.ok(grey.data.every((v, i) => (i % 4 === 3 ? v === 255 : Math.abs(v - 77) <= 1)), "grey expands to RGBA");
  // (Y, Cb, Cr) values: with restart markers every 2 MCUs, the same pixels as without.
  assert.deepEqual(decodeJpeg(compiled, uniformJpeg(32, 32, [200, 90, 60], 2), 1).data, decodeJpeg(compiled, uniformJpeg(32, 32, [200, 90, 60]), 1).data);
  // 1x1, arithmetic-coded (SOF9): the decoder's start-up check in codecs.ts.
  const arith = Uint8Array.from(atob("/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k="), (c) => c.charCodeAt(0));
  assert.deepEqual(Array.from(decodeJpeg(compiled, arith, 1).data), [190, 190, 190, 255]);

  const fails = (bytes: Uint8Array, pattern: RegExp): void => {
    assert.throws(() => decodeJpeg(compiled, bytes, 1), (e: unknown) => e instanceof JpegError && pattern.test(e.message), String(pattern));
  };
  const good = uniformJpeg(32, 32, [200, 90, 60]);
  fails(good.subarray(0, good.length - 40), /Premature end of JPEG file/);
  fails(uniformJpeg(16, 16, [10, 20, 30, 40]), /Unsupported color conversion/); // CMYK (also refused from the header, sniff.ts)
  const twelveBit = good.slice();
  twelveBit[good.indexOf(0xc0, 2) + 3] = 12; // SOF0 precision
  fails(twelveBit, /precision 12/);
  fails(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]), /contains no image/);
  // A fresh instance per decode: a failure leaves nothing behind for the next one.
  assert.equal(decodeJpeg(compiled, good, 1).width, 32);
});

test("a progressive JPEG with thousands of scans fails fast with libjpeg's message, and the next decode works", async () => {
  const { createRequire } = await import("node:module");
  const { default: encodeRaw, init } = await import("@jsquash/jpeg/encode.js");
  const { defaultOptions } = await import("@jsquash/jpeg/meta.js");
  await init(new WebAssembly.Module(readFileSync(createRequire(import.meta.url).resolve("@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm"))));
  const img = scene(48, 32);
  const progressive = new Uint8Array(await encodeRaw({ data: new Uint8ClampedArray(img.data.buffer), width: 48, height: 32 } as ImageData, { ...defaultOptions, quality: 90, progressive: true }));
  // Its last scan (SOS to EOI), repeated 3000 times before the EOI.
  const eoi = progressive.length - 2;
  let sos = eoi;
  while (sos > 2 && !(progressive[sos] === 0xff && progressive[sos + 1] === 0xda)) sos--;
  const scan = progressive.subarray(sos, eoi);
  const many = new Uint8Array(sos + scan.length * 3000 + 2);
  many.set(progressive.subarray(0, sos));
  for (let k = 0; k < 3000; k++) many.set(scan, sos + k * scan.length);
  many.set([0xff, 0xd9], many.length - 2);
  assert.equal(decodeJpeg(compiled, progressive, 1).width, 48, "the progressive original decodes");
  const t = performance.now();
  assert.throws(() => decodeJpeg(compiled, many, 1), (e: unknown) => e instanceof JpegError && /progression|scans/i.test(e.message), "refused");
  assert.ok(performance.now() - t < 2000, `refused in ${(performance.now() - t).toFixed(0)} ms`);
  assert.equal(decodeJpeg(compiled, progressive, 2).width, 24);
});

test("shrinkFactor: the largest 1/n that still covers the output", () => {
  assert.equal(shrinkFactor(4000, 3000, 400, 300), 8);
  assert.equal(shrinkFactor(4000, 3000, 500, 375), 8);
  assert.equal(shrinkFactor(4000, 3000, 501, 376), 4);
  assert.equal(shrinkFactor(4000, 3000, 1000, 750), 4);
  assert.equal(shrinkFactor(4000, 3000, 2000, 1500), 2);
  assert.equal(shrinkFactor(4000, 3000, 2001, 1500), 1);
  assert.equal(shrinkFactor(100, 100, 100, 100), 1);
  assert.equal(shrinkFactor(4000, 30, 400, 10), 2, "the short side decides");
});

test("a 12 MP JPEG's thumbnail is decoded at 1/8 and looks like one made from the full-size decode", async () => {
  const big = scene(4000, 3000);
  const jpeg = await encode(big, "jpeg", { quality: 85 });
  const engine = await createNodeEngine();
  const limits = { maxSourcePixels: 50_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 100_000 };
  const opts: PipelineOptions = { fit: "scale-down", format: "png", quality: 85, strength: 0, mode: "fast", orient: true, limits, width: 400 };
  const thumb = await engine.enhance(jpeg, opts);
  assert.deepEqual([thumb.width, thumb.height], [400, 300]);
  // The decoder's memory stayed near the 1/8 image (0.75 MB of pixels), far from the 48 MB a full decode holds.
  const peak = codecMemory().peak.jpegDec;
  assert.ok(peak < 16 * 2 ** 20, `decoder memory ${(peak / 2 ** 20).toFixed(1)} MiB`);
  // Against the same thumbnail made from the full-size decode.
  const { resizeImage } = await import("../../src/image/resize.ts");
  const reference = await resizeImage(await decode(jpeg, "jpeg", 1), 400, 300);
  const got = await decode(thumb.bytes, "png");
  assert.ok(psnr(got, reference) > 35, `thumbnail against the full-decode one: ${psnr(got, reference).toFixed(1)} dB`);

  // The JPEG limit is on what it decodes into: 12 MP against a 4 MP limit.
  const tight = { ...limits, maxJpegDecodePixels: 4_000_000, maxOutputPixels: 20_000_000 };
  const ok = await engine.enhance(jpeg, { ...opts, limits: tight, width: 1000 });
  assert.equal(ok.width, 1000, "decodes at 1/2 (3 MP): admitted");
  await assert.rejects(engine.enhance(jpeg, { ...opts, limits: tight, width: 2500 }), (e: unknown) =>
    e instanceof HttpError && e.status === 422 && e.code === "too_many_pixels" && e.param === "w" &&
    /decodes at full size, 4000x3000 = 12000000 pixels; the limit is 4000000; an output at most 2000 px wide \(w\) decodes at 1\/2 and fits/.test(e.message));
  // No size asked for: the largest output that decodes within the limit, never a refusal.
  const whole = await engine.enhance(jpeg, { ...opts, limits: tight, width: undefined });
  assert.deepEqual([whole.width, whole.height], [2000, 1500]);
  assert.deepEqual(whole.scaledFrom, { width: 4000, height: 3000 });
});
