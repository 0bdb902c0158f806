/**
 * Night photos as phones make them, through the whole pipeline with the shipped model: the colour
 * blotches a lossy source carries are smoothed as they are lifted, a lossless copy of the same pixels
 * is left to the luma filter, and the noise floor's colour is not lifted into a cast.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { chromaNoise, grayWorldDeviation } from "../../scripts/lib/metrics.ts";
import { drawShot, nightShot } from "../../scripts/lib/phone-night.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { makePixels } from "../helpers/fixtures.ts";

const engine = await createNodeEngine();
const limits = { maxSourcePixels: 4_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 100_000 };
const served: PipelineOptions = { fit: "scale-down", format: "png", quality: 85, strength: "auto", mode: "fast", orient: true, limits };

/** A clean, well-exposed scene: a soft wall (the left 128 px are only wall), coloured objects with edges. */
const clean = makePixels(320, 240, (x, y) => {
  const wall = 150 + 40 * Math.sin(x / 50) * Math.cos(y / 40);
  const object: [number, number, number] | null = (x - 180) ** 2 + (y - 140) ** 2 < 40 ** 2 ? [200, 70, 60] : x > 240 && y > 60 && y < 180 ? [60, 120, 190] : null;
  const [r, g, b] = object ?? [wall, wall * 0.95, wall * 0.85];
  return [r, g, b, 255];
});

/** Cb/Cr variance at the scale of blotches on the wall: of 8x8 block means, within 32 px regions (mean over regions). */
function blotchVariance(img: RgbaImage): number {
  const { width: W, height: H, data: d } = img;
  let total = 0, regions = 0;
  for (let ry = 0; ry + 32 <= H; ry += 32) {
    for (let rx = 0; rx + 32 <= 128; rx += 32) {
      for (const ch of [0, 1]) {
        const means: number[] = [];
        for (let by = ry; by < ry + 32; by += 8) {
          for (let bx = rx; bx < rx + 32; bx += 8) {
            let s = 0;
            for (let y = by; y < by + 8; y++) {
              for (let x = bx; x < bx + 8; x++) {
                const p = 4 * (y * W + x);
                const [r, g, b] = [d[p]!, d[p + 1]!, d[p + 2]!];
                s += ch === 0 ? -0.168736 * r - 0.331264 * g + 0.5 * b : 0.5 * r - 0.418688 * g - 0.081312 * b;
              }
            }
            means.push(s / 64);
          }
        }
        const m = means.reduce((a, b) => a + b, 0) / means.length;
        total += means.reduce((a, b) => a + (b - m) ** 2, 0) / means.length;
        regions++;
      }
    }
  }
  return total / regions;
}

test("a phone night JPEG's colour blotches are smoothed as they are lifted; the same pixels as PNG get the luma filter only", async () => {
  const dark = nightShot(clean, { ...drawShot(3), exposure: 0.05 }, 3);
  const jpeg = await encode(dark, "jpeg", { quality: 85 });
  // The JPEG's own decoded pixels as a lossless file: only the source's coding differs.
  const png = await encode(await decode(jpeg, "jpeg"), "png");
  const fromJpeg = await decode((await engine.enhance(jpeg, served)).bytes, "png");
  const fromPng = await decode((await engine.enhance(png, served)).bytes, "png");
  const [hfJ, hfP] = [chromaNoise(fromJpeg), chromaNoise(fromPng)];
  const [bJ, bP] = [blotchVariance(fromJpeg), blotchVariance(fromPng)];
  assert.ok(hfJ < hfP / 2, `pixel-level colour noise: ${hfJ.toFixed(2)} from the JPEG, ${hfP.toFixed(2)} from the PNG`);
  assert.ok(bJ < bP / 2, `colour blotches (8 px block means): ${bJ.toFixed(2)} from the JPEG, ${bP.toFixed(2)} from the PNG`);
  // Luminance is the same pipeline's: within rounding on average.
  let dy = 0;
  for (let p = 0; p < fromJpeg.data.length; p += 4) {
    const y = (img: RgbaImage) => 0.299 * img.data[p]! + 0.587 * img.data[p + 1]! + 0.114 * img.data[p + 2]!;
    dy += Math.abs(y(fromJpeg) - y(fromPng));
  }
  assert.ok(dy / (fromJpeg.width * fromJpeg.height) < 1, `mean luma difference ${(dy / (fromJpeg.width * fromJpeg.height)).toFixed(2)} levels`);
  // With denoise=0 nothing is smoothed: the JPEG keeps its blotches.
  const raw = await decode((await engine.enhance(jpeg, { ...served, denoise: 0 })).bytes, "png");
  assert.ok(blotchVariance(raw) > 2 * bJ, `denoise=0 keeps the blotches (${blotchVariance(raw).toFixed(2)})`);
});

test("the colour of the noise floor is not lifted into a cast; colour above it is kept", async () => {
  // Near black with a green tint (a phone's darkest shadows), and a dim but real red object.
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const scene = makePixels(240, 160, (x, y) => {
    if (x > 150 && y > 40 && y < 120) return [40, 12, 10, 255];
    const v = 1 + 3 * rnd();
    return [v, v + 2, v, 255];
  });
  const png = await encode(scene, "png");
  const out = await decode((await engine.enhance(png, { ...served, strength: 1 })).bytes, "png");
  const region = (img: RgbaImage, inside: (x: number, y: number) => boolean): RgbaImage => {
    const px: number[] = [];
    for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) if (inside(x, y)) px.push(...img.data.subarray(4 * (y * img.width + x), 4 * (y * img.width + x) + 4));
    return { width: px.length / 4, height: 1, data: Uint8Array.from(px) };
  };
  const shadows = (x: number, y: number) => x < 120 && (y < 30 || y > 130 || x < 100);
  const red = (x: number, y: number) => x > 160 && y > 50 && y < 110;
  const inShadow = region(scene, shadows), outShadow = region(out, shadows);
  const lift = (img: RgbaImage) => img.data.reduce((s, v, i) => (i % 4 === 3 ? s : s + v), 0) / (img.data.length * 0.75);
  assert.ok(lift(outShadow) > 2 * lift(inShadow), `the shadows are lifted (${lift(inShadow).toFixed(1)} -> ${lift(outShadow).toFixed(1)})`);
  // Relative cast: the channel spread as a share of brightness (the input's is ~0.5 of its level).
  // At 1-4 levels a pixel cannot lose all its colour to 8-bit rounding: at least 40% of the cast goes.
  const relCast = (img: RgbaImage) => grayWorldDeviation(img) / (lift(img) / 255);
  assert.ok(relCast(outShadow) < 0.6 * relCast(inShadow), `shadow cast ${relCast(inShadow).toFixed(2)} -> ${relCast(outShadow).toFixed(2)} of the brightness`);
  const r = region(out, red);
  const [mr, mg] = [0, 1].map((c) => r.data.reduce((s, v, i) => (i % 4 === c ? s + v : s), 0) / r.width);
  assert.ok(mr! > 1.6 * mg!, `the red object stays red (R ${mr!.toFixed(0)}, G ${mg!.toFixed(0)})`);
});
