import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { lumaGrid } from "../../src/image/gain.ts";
import { areaDownscaleWasm } from "../../src/image/area-kernel.ts";
import { initPixels } from "../../src/image/pixels.ts";
import { cellPeaksWasm, smoothDeepShadowsWasm } from "../../src/image/shadow-kernels.ts";
import { cellPeaks, mayHaveDeepShadows, SHADOW_DEFAULTS, shadowGrid, shadowLevels, smoothDeepShadows } from "../../src/image/shadows.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { mulberry32 } from "../../src/shared/rng.ts";
import { blockiness } from "../../scripts/lib/metrics.ts";
import { makePixels, paint } from "../helpers/fixtures.ts";

initPixels(readFileSync(fileURLToPath(new URL("../../src/image/pixels.wasm", import.meta.url))));

const copy = (img: RgbaImage): RgbaImage => ({ ...img, data: img.data.slice() });

/** A dark source as a lossy codec leaves it: 8x8 tiles at 0, 1 or 2 levels, a pixel here and there one off (seeded). */
function mosaic(w: number, h: number, seed: number): RgbaImage {
  const rand = mulberry32(seed);
  const bw = Math.ceil(w / 8);
  const tiles = Array.from({ length: bw * Math.ceil(h / 8) }, () => Math.floor(rand() * 3));
  return paint(w, h, (x, y) => {
    const v = tiles[((y / 8) | 0) * bw + ((x / 8) | 0)]! + (rand() < 0.1 ? 1 : 0);
    return [v, v, v];
  });
}

/** Mean absolute luma step between neighbours across 8 px block boundaries. */
function boundaryStep(img: RgbaImage): number {
  const { width: W, height: H, data: d } = img;
  const y = (x: number, r: number) => 0.2126 * d[4 * (r * W + x)]! + 0.7152 * d[4 * (r * W + x) + 1]! + 0.0722 * d[4 * (r * W + x) + 2]!;
  let sum = 0, n = 0;
  for (let r = 0; r < H; r++) for (let x = 7; x + 1 < W; x += 8) { sum += Math.abs(y(x + 1, r) - y(x, r)); n++; }
  for (let r = 7; r + 1 < H; r += 8) for (let x = 0; x < W; x++) { sum += Math.abs(y(x, r + 1) - y(x, r)); n++; }
  return sum / n;
}

/** What the curves make of it: every level times `gain` (a dark photo's level 1 becomes 20-30). */
const lifted = (img: RgbaImage, gain: number): RgbaImage => ({ ...img, data: img.data.map((v, i) => (i % 4 === 3 ? v : Math.min(255, v * gain))) });

/** Levels of `source`, the blend applied to `out` (its curved copy) by `run`. */
function smooth(source: RgbaImage, out: RgbaImage, run: typeof smoothDeepShadows = smoothDeepShadows, amount = 1): RgbaImage {
  const g = shadowGrid(source.width, source.height);
  const levels = shadowLevels(cellPeaks(source, g.cols, g.rows));
  const result = copy(out);
  if (levels) run(result, levels, areaDownscaleWasm(out, g.cols, g.rows), amount);
  return result;
}

test("a lifted mosaic of dark tiles becomes a smooth shadow of the same brightness", () => {
  const source = mosaic(160, 120, 1);
  const out = lifted(source, 22);
  const smoothed = smooth(source, out);
  assert.ok(blockiness(out) > 3, `the lifted mosaic is blocky (${blockiness(out).toFixed(2)})`);
  const before = boundaryStep(out), after = boundaryStep(smoothed);
  assert.ok(after < before / 4, `mean step across block boundaries ${before.toFixed(2)} -> ${after.toFixed(2)} levels`);
  const mean = (img: RgbaImage) => img.data.reduce((s, v, i) => (i % 4 === 3 ? s : s + v), 0) / (img.width * img.height * 3);
  assert.ok(Math.abs(mean(smoothed) - mean(out)) < 1.5, `mean ${mean(out).toFixed(2)} -> ${mean(smoothed).toFixed(2)}`);
  // Alpha is never touched.
  for (let p = 3; p < smoothed.data.length; p += 4) assert.equal(smoothed.data[p], 255);
});

test("a source above the threshold, and amount 0, change nothing", () => {
  const bright = paint(96, 64, (x, y) => [20 + ((x * 7 + y * 3) % 40), 30, 25]);
  const g = shadowGrid(96, 64);
  assert.equal(shadowLevels(cellPeaks(bright, g.cols, g.rows)), undefined, "no cell under the threshold: nothing to do");
  const source = mosaic(96, 64, 2);
  const out = lifted(source, 20);
  assert.deepEqual(smooth(source, out, smoothDeepShadows, 0).data, out.data);
  assert.throws(() => smooth(source, out, smoothDeepShadows, 1.5), /amount must be in 0\.\.1, got 1\.5/);
});

test("a light in the dark, and what is next to it, are kept; the shadow away from it is smoothed", () => {
  // A 12x12 light at the centre of a mosaic.
  const m = mosaic(160, 120, 3);
  const source = makePixels(160, 120, (x, y) => {
    if (Math.abs(x - 80) < 6 && Math.abs(y - 60) < 6) return [200, 190, 170, 255];
    const p = 4 * (y * 160 + x);
    return [m.data[p]!, m.data[p + 1]!, m.data[p + 2]!, 255];
  });
  const out = lifted(source, 20);
  const smoothed = smooth(source, out);
  const changed = (x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (smoothed.data[4 * (y * 160 + x)] !== out.data[4 * (y * 160 + x)]) n++;
    return n;
  };
  // The light and the cells around it (the 3x3 guard: a cell either side) are untouched.
  assert.equal(changed(72, 52, 88, 68), 0, "the light and its neighbourhood keep every pixel");
  assert.ok(changed(0, 0, 40, 40) > 400, "the shadow far from it is smoothed");
});

test("a dim subject at the same low mean as the mosaic keeps its detail: its pixels peak above the threshold", () => {
  // Left half: the mosaic; right half: a dim striped subject (0 and 10 levels, mean 3-5) on black.
  const m = mosaic(160, 96, 4);
  const source = makePixels(160, 96, (x, y) => {
    if (x >= 80) return x % 6 < 2 && y > 8 && y < 88 ? [10, 10, 10, 255] : [1, 1, 1, 255];
    const p = 4 * (y * 160 + x);
    return [m.data[p]!, m.data[p + 1]!, m.data[p + 2]!, 255];
  });
  const out = lifted(source, 20);
  const smoothed = smooth(source, out);
  let left = 0, right = 0;
  for (let y = 16; y < 80; y++) {
    for (let x = 0; x < 160; x++) {
      const p = 4 * (y * 160 + x);
      if (smoothed.data[p] === out.data[p]) continue;
      if (x < 56) left++;
      else if (x >= 96) right++;
    }
  }
  assert.equal(right, 0, "the subject's stripes are kept pixel for pixel");
  assert.ok(left > 1000, `the mosaic is smoothed (${left} pixels changed)`);
});

test("the WASM cell peaks are the JS's, on every size", () => {
  const rand = mulberry32(9);
  for (const [w, h, cols, rows] of [[129, 97, 16, 12], [300, 200, 38, 25], [64, 256, 8, 32], [17, 9, 2, 1]] as const) {
    const img = paint(w, h, () => [Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 256)]);
    const js = cellPeaks(img, cols, rows);
    for (const bandBytes of [w * 4, 32 * 1024]) {
      assert.deepEqual(cellPeaksWasm(img, cols, rows, { minPixels: 0, bandBytes }), js, `${w}x${h} in ${cols}x${rows} cells`);
    }
  }
});

test("the WASM blend is within a level of the JS, band by band, on every size", () => {
  const rand = mulberry32(7);
  for (const [w, h] of [[129, 97], [300, 200], [64, 256]] as const) {
    // A mosaic under a ramp that rises past the threshold, with some bright specks.
    const m = mosaic(w, h, w);
    const source = makePixels(w, h, (x, y) => {
      const p = 4 * (y * w + x);
      const ramp = Math.max(0, (x / w) * 30 - 10);
      const speck = rand() < 0.002 ? 120 : 0;
      return [m.data[p]! + ramp + speck, m.data[p + 1]! + ramp * 0.8, m.data[p + 2]! + ramp * 0.6, 128 + (x % 128)];
    });
    const out = lifted(source, 9);
    const js = smooth(source, out);
    for (const bandBytes of [w * 4, 32 * 1024]) {
      const wasm = smooth(source, out, (i, l, r, a) => smoothDeepShadowsWasm(i, l, r, a, SHADOW_DEFAULTS, { minPixels: 0, bandBytes }));
      let differ = 0;
      for (let i = 0; i < js.data.length; i++) {
        const d = Math.abs(js.data[i]! - wasm.data[i]!);
        assert.ok(d <= 1, `${w}x${h}: byte ${i} is ${js.data[i]} in JS, ${wasm.data[i]} in WASM`);
        if (d) differ++;
      }
      assert.ok(differ < js.data.length / 1000, `${w}x${h}: ${differ} bytes differ by a level`);
      assert.notDeepEqual(wasm.data, out.data, "the blend did something");
      for (let p = 3; p < wasm.data.length; p += 4) assert.equal(wasm.data[p], out.data[p], "alpha kept");
    }
  }
});

test("only photos with a region dark enough are read at all", () => {
  assert.equal(mayHaveDeepShadows(lumaGrid(paint(64, 64, () => [40, 40, 40]), 16)), false);
  assert.equal(mayHaveDeepShadows(lumaGrid(paint(64, 64, (x) => (x < 16 ? [5, 5, 5] : [40, 40, 40])), 16)), false, "5 levels: above half the threshold");
  assert.equal(mayHaveDeepShadows(lumaGrid(paint(64, 64, (x) => (x < 16 ? [3, 3, 3] : [40, 40, 40])), 16)), true);
});
