/**
 * Night photos as phones make them, through the whole pipeline with the shipped model: the colour
 * blotches a lossy source carries are smoothed as they are lifted, a lossless copy of the same pixels
 * is left to the luma filter, the noise floor's colour is not lifted into a cast, and the darkest
 * shots' JPEG tiles are not lifted into a mosaic.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { chromaNoise, grayWorldDeviation } from "../../scripts/lib/metrics.ts";
import { drawShot, nightShot } from "../../scripts/lib/phone-night.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { gaussian, mulberry32 } from "../../src/shared/rng.ts";
import { makePixels, meanRgb } from "../helpers/fixtures.ts";

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

/** Mean absolute luma step between neighbours across 8 px block boundaries, over columns x0..x1. */
function boundaryStep(img: RgbaImage, x0: number, x1: number): number {
  const { width: W, height: H, data: d } = img;
  const y = (x: number, r: number) => 0.2126 * d[4 * (r * W + x)]! + 0.7152 * d[4 * (r * W + x) + 1]! + 0.0722 * d[4 * (r * W + x) + 2]!;
  let sum = 0, n = 0;
  for (let r = 0; r < H; r++) for (let x = x0 + 7; x + 1 < x1; x += 8) { sum += Math.abs(y(x + 1, r) - y(x, r)); n++; }
  for (let r = 7; r + 1 < H; r += 8) for (let x = x0; x < x1; x++) { sum += Math.abs(y(x, r + 1) - y(x, r)); n++; }
  return sum / n;
}

test("the darkest shots' JPEG blocks are not lifted into a mosaic; a light in them and a lossless copy keep theirs", async () => {
  // A night shot at 0-3 levels (soft shapes with grain) with a street light on the right: JPEG
  // keeps such a region as flat 8x8 tiles at 0, 1 and 2.
  const rand = mulberry32(5);
  const scene = makePixels(320, 240, (x, y) => {
    if ((x - 260) ** 2 + (y - 120) ** 2 < 14 ** 2) return [250, 230, 190, 255];
    const v = Math.max(0, 1.1 + 0.9 * Math.sin(x / 11) * Math.cos(y / 13) + (x / 320) * 0.8 + gaussian(rand) * 0.4);
    return [v, v, v * 1.1, 255];
  });
  const jpeg = await encode(scene, "jpeg", { quality: 85 });
  const png = await encode(await decode(jpeg, "jpeg"), "png");
  // strength 1: the scene is mostly under the empty black that `auto` leaves out.
  const lift = { ...served, strength: 1 };
  const fromJpeg = await decode((await engine.enhance(jpeg, lift)).bytes, "png");
  const raw = await decode((await engine.enhance(jpeg, { ...lift, denoise: 0 })).bytes, "png");
  const fromPng = await decode((await engine.enhance(png, lift)).bytes, "png");
  const sJ = boundaryStep(fromJpeg, 0, 200), sRaw = boundaryStep(raw, 0, 200), sP = boundaryStep(fromPng, 0, 200);
  assert.ok(sRaw > 1.5, `lifted as they are, the tiles step ${sRaw.toFixed(1)} levels at block boundaries`);
  assert.ok(sJ < sRaw / 5, `served from the JPEG: ${sJ.toFixed(1)} levels (denoise=0: ${sRaw.toFixed(1)})`);
  assert.ok(sJ < sP / 2, `the lossless copy keeps its low levels: ${sP.toFixed(1)} levels against the JPEG's ${sJ.toFixed(1)}`);
  // The light is as bright as without the pass.
  const light = (img: RgbaImage) => meanRgb(img, 252, 112, 268, 128)[0];
  assert.ok(Math.abs(light(fromJpeg) - light(raw)) < 3, `the light: ${light(raw).toFixed(0)} -> ${light(fromJpeg).toFixed(0)}`);
  // Brightness of the shadows stays what the curves gave them.
  const dark = (img: RgbaImage) => meanRgb(img, 0, 0, 200, 240)[1];
  assert.ok(Math.abs(dark(fromJpeg) - dark(raw)) < 0.15 * dark(raw) + 1, `the shadows' level: ${dark(raw).toFixed(1)} -> ${dark(fromJpeg).toFixed(1)}`);
});

/** Mean square of luma minus its 3x3 box mean, over the interior: the fine grain a lift shows. */
function lumaGrain(img: RgbaImage): number {
  const { width: W, height: H, data: d } = img;
  const y = (i: number) => 0.2126 * d[4 * i]! + 0.7152 * d[4 * i + 1]! + 0.0722 * d[4 * i + 2]!;
  let sum = 0, n = 0;
  for (let r = 1; r < H - 1; r++) {
    for (let c = 1; c < W - 1; c++) {
      let box = 0;
      for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) box += y((r + dr) * W + c + dc);
      sum += (y(r * W + c) - box / 9) ** 2;
      n++;
    }
  }
  return sum / n;
}

test("a lossy source's luma is smoothed at least at the lossy floor, where its measured noise reads low", async () => {
  // A dark JPEG with no sensor noise: what the lift shows of it is the codec's quantisation, which
  // the noise measurement (made on pixel-level differences the codec removed) reads as next to none.
  const dark = nightShot(clean, { ...drawShot(4), exposure: 0.06, photons: 1e12, read: 0, blotch: 0 }, 4);
  const jpeg = await encode(dark, "jpeg", { quality: 80 });
  const png = await encode(await decode(jpeg, "jpeg"), "png");
  const fromJpeg = await decode((await engine.enhance(jpeg, served)).bytes, "png");
  const fromPng = await decode((await engine.enhance(png, served)).bytes, "png");
  const [gJ, gP] = [lumaGrain(fromJpeg), lumaGrain(fromPng)];
  assert.ok(gJ < 0.85 * gP, `luma grain: ${gJ.toFixed(2)} from the JPEG, ${gP.toFixed(2)} from the same pixels as PNG`);
});
