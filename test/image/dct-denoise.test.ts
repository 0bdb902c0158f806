import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dct8, dctDenoise, HARD_K, idct8, origins, PATCH, strongDenoise, STRONG_LOSSY_SIGMA, WINDOW } from "../../src/image/dct-denoise.ts";
import { dctBandRows, dctDenoiseWasm } from "../../src/image/dct-kernel.ts";
import { denoise, type EpsGrid } from "../../src/image/denoise.ts";
import { lumaGrid } from "../../src/image/gain.ts";
import { initPixels } from "../../src/image/pixels.ts";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { makePixels } from "../helpers/fixtures.ts";

initPixels(readFileSync(new URL("../../src/image/pixels.wasm", import.meta.url)));

/** Deterministic uniform noise in [-1, 1) (LCG). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1;
}

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** A clean scene (gradients, a hard-edged square, colour) and the same with white noise of `sd` levels added. */
function scene(w: number, h: number, sd: number, seed = 3): { clean: RgbaImage; noisy: RgbaImage } {
  const n = noise(seed);
  const value = (x: number, y: number, c: number): number => {
    const inSquare = x > w / 4 && x < w / 2 && y > h / 4 && y < (3 * h) / 4;
    return 60 + 40 * Math.sin(x / 11) * Math.cos(y / 17) + (inSquare ? 70 : 0) + c * 12;
  };
  const clean = makePixels(w, h, (x, y) => [clamp(value(x, y, 0)), clamp(value(x, y, 1)), clamp(value(x, y, 2)), 255]);
  const noisy = makePixels(w, h, (x, y) => [clamp(value(x, y, 0) + sd * n()), clamp(value(x, y, 1) + sd * n()), clamp(value(x, y, 2) + sd * n()), 200]);
  return { clean, noisy };
}

/** A grid of one eps everywhere (cells of 32 px). */
function flatGrid(img: RgbaImage, eps: number): EpsGrid {
  const cols = Math.ceil(img.width / 32), rows = Math.ceil(img.height / 32);
  return { cols, rows, stepX: 32, stepY: 32, eps: new Float32Array(cols * rows).fill(eps) };
}

const copy = (img: RgbaImage): RgbaImage => ({ ...img, data: img.data.slice() });

function rmse(a: RgbaImage, b: RgbaImage): number {
  let s = 0, n = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (i % 4 === 3) continue;
    s += (a.data[i]! - b.data[i]!) ** 2;
    n++;
  }
  return Math.sqrt(s / n);
}

/** The DCT-II matrix by its definition, orthonormal: M[k][n]. */
const M = Array.from({ length: 8 }, (_, k) => Array.from({ length: 8 }, (_, n) => (k === 0 ? Math.sqrt(1 / 8) : 0.5) * Math.cos((Math.PI * (2 * n + 1) * k) / 16)));

test("dct8 is the orthonormal DCT-II and idct8 its inverse", () => {
  const r = noise(1);
  const x = Array.from({ length: 8 }, () => 100 * r());
  const y = new Float64Array(8);
  dct8(x, 0, 1, y, 0, 1);
  for (let k = 0; k < 8; k++) assert.ok(Math.abs(y[k]! - M[k]!.reduce((a, m, n) => a + m * x[n]!, 0)) < 1e-9, `coefficient ${k}`);
  const back = new Float64Array(8);
  idct8(y, 0, 1, back, 0, 1);
  for (let n = 0; n < 8; n++) assert.ok(Math.abs(back[n]! - x[n]!) < 1e-9);
  assert.deepEqual([...origins(13)], [0, 2, 4, 5]);
  assert.deepEqual([...origins(12)], [0, 2, 4]);
  assert.deepEqual([...origins(7)], []);
});

/**
 * The algorithm by its definition, patch by patch, on whole f64 planes: each 8x8 patch (every 2
 * pixels, and flush with the far edges) transformed with M, thresholded or Wiener-shrunk, inverted
 * and averaged back with weight w times the window.
 */
function byDefinition(img: RgbaImage, sigma: number): RgbaImage {
  const { width: W, height: H } = img;
  const toPlanes = (d: Uint8Array): Float64Array[] => {
    const p = [0, 1, 2].map(() => new Float64Array(W * H));
    for (let i = 0; i < W * H; i++) {
      const r = d[4 * i]!, g = d[4 * i + 1]!, b = d[4 * i + 2]!;
      p[0]![i] = (r + g + b) / Math.sqrt(3);
      p[1]![i] = (r - b) / Math.SQRT2;
      p[2]![i] = (r - 2 * g + b) / Math.sqrt(6);
    }
    return p;
  };
  const fwd = (p: Float64Array, x0: number, y0: number): number[] => {
    const c: number[] = [];
    for (let k = 0; k < 8; k++) for (let l = 0; l < 8; l++) {
      let s = 0;
      for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) s += M[k]![v]! * M[l]![u]! * p[(y0 + v) * W + x0 + u]!;
      c.push(s);
    }
    return c;
  };
  const pass = (p: Float64Array, pilot: Float64Array | null): Float64Array => {
    const sum = new Float64Array(W * H), wsum = new Float64Array(W * H);
    for (const y0 of origins(H)) for (const x0 of origins(W)) {
      const c = fwd(p, x0, y0);
      let w: number;
      if (!pilot) {
        let kept = 1;
        for (let k = 1; k < 64; k++) if (Math.abs(c[k]!) < HARD_K * sigma) c[k] = 0; else kept++;
        w = 1 / kept;
      } else {
        const q = fwd(pilot, x0, y0);
        let e = 1;
        for (let k = 1; k < 64; k++) {
          const g = q[k]! ** 2 / (q[k]! ** 2 + sigma ** 2);
          c[k] = c[k]! * g;
          e += g * g;
        }
        w = 1 / e;
      }
      for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) {
        let s = 0;
        for (let k = 0; k < 8; k++) for (let l = 0; l < 8; l++) s += M[k]![v]! * M[l]![u]! * c[k * 8 + l]!;
        const i = (y0 + v) * W + x0 + u, kw = w * WINDOW[v]! * WINDOW[u]!;
        sum[i]! += kw * s;
        wsum[i]! += kw;
      }
    }
    return sum.map((s, i) => s / wsum[i]!);
  };
  const planes = toPlanes(img.data).map((p) => pass(p, pass(p, null)));
  const out = copy(img);
  for (let i = 0; i < W * H; i++) {
    const Y = planes[0]![i]! / Math.sqrt(3), a = planes[1]![i]! / Math.SQRT2, b = planes[2]![i]! / Math.sqrt(6);
    out.data[4 * i] = clamp(Y + a + b);
    out.data[4 * i + 1] = clamp(Y - 2 * b);
    out.data[4 * i + 2] = clamp(Y - a + b);
  }
  return out;
}

test("dctDenoise gives the algorithm's result by its definition, across bands", () => {
  // 150 rows: three bands of 64 output rows; 37 columns: the last patch column is flush (odd offset).
  const { noisy } = scene(37, 150, 20);
  const sigma = 9;
  const want = byDefinition(noisy, sigma);
  const got = copy(noisy);
  dctDenoise(got, flatGrid(noisy, sigma * sigma));
  let off = 0;
  for (let i = 0; i < got.data.length; i++) {
    const d = Math.abs(got.data[i]! - want.data[i]!);
    assert.ok(d <= 1, `byte ${i}: ${got.data[i]} vs ${want.data[i]}`);
    if (d) off++;
  }
  // f32 planes against f64: a rounding lands the other way on a few bytes at most.
  assert.ok(off < got.data.length / 1000, `${off} bytes differ by 1`);
  assert.ok(rmse(got, noisy) > 3, "it did smooth");
  for (let i = 3; i < got.data.length; i += 4) assert.equal(got.data[i], 200, "alpha kept");
});

test("WASM: within a level of the reference, the same bytes whatever the band size", () => {
  for (const [w, h] of [[203, 157], [8, 8], [9, 300], [640, 96]] as const) {
    const { noisy } = scene(w, h, 24, w);
    // A grid with some cells at 0: patches there stay as they are.
    const grid = flatGrid(noisy, 0);
    grid.eps.forEach((_, i) => (grid.eps[i] = (i % 3) * 40));
    const ref = copy(noisy);
    dctDenoise(ref, grid);
    const a = copy(noisy), b = copy(noisy);
    dctDenoiseWasm(a, grid);
    dctDenoiseWasm(b, grid, { bandBytes: 1 });
    assert.equal(dctBandRows(w, 1), 16, "the smallest band");
    assert.deepEqual(a.data, b.data, `${w}x${h}: bands of ${dctBandRows(w)} and 16 rows`);
    let off = 0;
    for (let i = 0; i < a.data.length; i++) {
      const d = Math.abs(a.data[i]! - ref.data[i]!);
      assert.ok(d <= 1, `${w}x${h} byte ${i}: ${a.data[i]} vs ${ref.data[i]}`);
      if (d) off++;
    }
    assert.ok(off <= a.data.length / 1000, `${w}x${h}: ${off} bytes differ`);
  }
});

test("no noise to remove: the image comes back as it was", () => {
  const { noisy } = scene(120, 90, 10);
  for (const run of [dctDenoise, dctDenoiseWasm]) {
    const same = copy(noisy);
    run(same, flatGrid(noisy, 0));
    assert.deepEqual(same.data, noisy.data);
  }
  // Not brightened (gain 1), or amount 0: nothing to do.
  const g = { before: lumaGrid(noisy), after: lumaGrid(noisy) };
  const kept = copy(noisy);
  assert.equal(strongDenoise(kept, g, 1, false), 0);
  assert.equal(strongDenoise(kept, { before: lumaGrid(noisy), after: lumaGrid(scene(120, 90, 10, 9).clean) }, 0, false), 0);
  assert.deepEqual(kept.data, noisy.data);
  assert.throws(() => strongDenoise(kept, g, 1.5, false), /amount must be in 0..1/);
  // Smaller than a patch: left as it is.
  const tiny = scene(7, 30, 20).noisy, t = copy(tiny);
  dctDenoiseWasm(t, flatGrid(tiny, 400));
  assert.deepEqual(t.data, tiny.data);
});

test("removes more of the noise than the guided filter, and keeps the edges", () => {
  const { clean, noisy } = scene(160, 120, 30);
  // The guided filter's own eps for a region brightened 5x (amount 1): the same noise model for both.
  const dark = makePixels(160, 120, (x, y) => {
    const p = (y * 160 + x) * 4;
    return [noisy.data[p]! / 5, noisy.data[p + 1]! / 5, noisy.data[p + 2]! / 5, 255];
  });
  const gain = { before: lumaGrid(dark), after: lumaGrid(noisy) };
  const strong = copy(noisy), guided = copy(noisy);
  assert.equal(strongDenoise(strong, gain, 1, false, dctDenoiseWasm), 1);
  denoise(guided, gain, 1);
  const [n, s, g] = [rmse(noisy, clean), rmse(strong, clean), rmse(guided, clean)];
  assert.ok(s < 0.5 * n, `strong: ${s.toFixed(2)} levels from the clean scene, noisy ${n.toFixed(2)}`);
  assert.ok(s < 0.9 * g, `strong ${s.toFixed(2)}, guided filter ${g.toFixed(2)}`);
  // The square's edge (x = 40) stays a step: the mean of columns 42-44 against 36-38, in the square's rows.
  const colMean = (img: RgbaImage, x0: number, x1: number): number => {
    let sum = 0, k = 0;
    for (let y = 40; y < 80; y++) for (let x = x0; x <= x1; x++, k++) sum += img.data[(y * 160 + x) * 4 + 1]!;
    return sum / k;
  };
  const step = (img: RgbaImage): number => colMean(img, 42, 44) - colMean(img, 36, 38);
  assert.ok(Math.abs(step(strong) - step(clean)) < 8, `edge step ${step(strong).toFixed(1)}, clean ${step(clean).toFixed(1)}`);
});

test("a lossy source's noise is taken as STRONG_LOSSY_SIGMA times larger", () => {
  const { noisy } = scene(96, 64, 20);
  const dark = makePixels(96, 64, (x, y) => {
    const p = (y * 96 + x) * 4;
    return [noisy.data[p]! / 4, noisy.data[p + 1]! / 4, noisy.data[p + 2]! / 4, 255];
  });
  const gain = { before: lumaGrid(dark), after: lumaGrid(noisy) };
  const grids: EpsGrid[] = [];
  for (const lossy of [false, true]) strongDenoise(copy(noisy), gain, 0.5, lossy, (_, grid) => grids.push(grid));
  assert.ok(STRONG_LOSSY_SIGMA > 1);
  grids[0]!.eps.forEach((e, i) => assert.ok(Math.abs(grids[1]!.eps[i]! - e * STRONG_LOSSY_SIGMA ** 2) < 1e-3 * e + 1e-6));
  assert.equal(PATCH, 8);
});

test("pipeline: denoise=strong through the engine", async () => {
  const engine = await createNodeEngine();
  const limits = { maxSourcePixels: 1e6, maxOutputPixels: 1e6, maxFullModePixels: 1e6 };
  const base: PipelineOptions = { fit: "scale-down", format: "png", quality: 85, strength: 1, mode: "fast", orient: true, limits };
  // A dark noisy scene: the curves lift it and its noise.
  const { noisy } = scene(128, 96, 6);
  const low = makePixels(128, 96, (x, y) => {
    const p = (y * 128 + x) * 4;
    return [noisy.data[p]! / 6, noisy.data[p + 1]! / 6, noisy.data[p + 2]! / 6, 255];
  });
  const png = await encode(low, "png");
  const run = async (denoise: PipelineOptions["denoise"]): Promise<RgbaImage> => decode((await engine.enhance(png, { ...base, denoise })).bytes, "png");
  const [off, auto, strong] = [await run(0), await run("auto"), await run("strong")];
  assert.ok(lumaGrid(off).mean.reduce((a, b) => a + b) > 2 * lumaGrid(low).mean.reduce((a, b) => a + b), "brightened");
  // Grain: mean absolute difference of horizontal neighbours, in the flat top rows.
  const grain = (img: RgbaImage): number => {
    let s = 0, k = 0;
    for (let y = 0; y < 16; y++) for (let x = 1; x < 128; x++, k++) s += Math.abs(img.data[(y * 128 + x) * 4 + 1]! - img.data[(y * 128 + x - 1) * 4 + 1]!);
    return s / k;
  };
  assert.ok(grain(strong) < grain(auto), `grain strong ${grain(strong).toFixed(2)}, auto ${grain(auto).toFixed(2)}`);
  assert.ok(grain(auto) < grain(off), `grain auto ${grain(auto).toFixed(2)}, off ${grain(off).toFixed(2)}`);
  // The same brightness: the denoiser moves noise, not exposure.
  const mean = (img: RgbaImage) => lumaGrid(img, 1 << 20).mean[0]!;
  assert.ok(Math.abs(mean(strong) - mean(off)) < 1.5, `mean ${mean(strong).toFixed(1)} vs ${mean(off).toFixed(1)}`);
});

test("pipeline: denoise=strong on a lossy source, and on images too small for a patch", async () => {
  const engine = await createNodeEngine();
  const limits = { maxSourcePixels: 1e6, maxOutputPixels: 1e6, maxFullModePixels: 1e6 };
  const base: PipelineOptions = { fit: "scale-down", format: "png", quality: 85, strength: 1, mode: "fast", orient: true, limits };
  const { noisy } = scene(128, 96, 6, 11);
  const low = makePixels(128, 96, (x, y) => {
    const p = (y * 128 + x) * 4;
    return [noisy.data[p]! / 6, noisy.data[p + 1]! / 6, noisy.data[p + 2]! / 6, 255];
  });
  // A JPEG: the lossy floor and scale apply; the result is still smoother than auto's.
  const jpeg = await encode(low, "jpeg", { quality: 85 });
  const run = async (bytes: Uint8Array, denoise: PipelineOptions["denoise"], o: Partial<PipelineOptions> = {}): Promise<RgbaImage> =>
    decode((await engine.enhance(bytes, { ...base, ...o, denoise })).bytes, "png");
  const step = (img: RgbaImage): number => {
    let s = 0, k = 0;
    for (let y = 0; y < img.height; y++) for (let x = 1; x < img.width; x++, k++) s += Math.abs(img.data[(y * img.width + x) * 4 + 1]! - img.data[(y * img.width + x - 1) * 4 + 1]!);
    return s / k;
  };
  const [auto, strong] = [await run(jpeg, "auto"), await run(jpeg, "strong")];
  assert.ok(step(strong) < step(auto), `neighbour steps: strong ${step(strong).toFixed(2)}, auto ${step(auto).toFixed(2)}`);
  // Too small for an 8x8 patch on a side: served all the same.
  for (const [w, h] of [[1, 1], [7, 40], [40, 7], [8, 8], [9, 300]] as const) {
    const tiny = await encode(makePixels(w, h, (x, y) => [(x * 7 + y * 3) % 40, (x + y) % 30, 10, 255]), "png");
    const out = await run(tiny, "strong");
    assert.deepEqual([out.width, out.height], [w, h]);
  }
});
