import { test } from "node:test";
import assert from "node:assert/strict";
import { cellEps, denoise, DENOISE_DEFAULTS } from "../../src/image/denoise.ts";
import { lumaGrid, type Gain, type LumaGrid } from "../../src/image/gain.ts";
import { AUTO_FULL_NOISE, denoiseAmount, LOSSY_MIN_AMOUNT, measureNoise, NOISE_MIN_CELLS } from "../../src/image/noise.ts";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import { HttpError } from "../../src/shared/errors.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import { makePixels } from "../helpers/fixtures.ts";

/** Deterministic noise in [-1, 1] (xorshift). */
function noise(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 0xffffffff) * 2 - 1;
  };
}

/** Gain grids for `after` (to be denoised) relative to `before` (both measured at full size). */
const gainOf = (before: RgbaImage, after: RgbaImage): Gain => ({ before: lumaGrid(before), after: lumaGrid(after) });

const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** A curve stand-in: every RGB value times `gain`. */
function brighten(img: RgbaImage, gain: number): RgbaImage {
  const data = img.data.slice();
  for (let i = 0; i < data.length; i++) if (i % 4 !== 3) data[i] = clamp(data[i]! * gain);
  return { ...img, data };
}

function channelStd(img: RgbaImage, c: number, x0 = 0, x1 = img.width): number {
  const v: number[] = [];
  for (let y = 0; y < img.height; y++) for (let x = x0; x < x1; x++) v.push(img.data[(y * img.width + x) * 4 + c]!);
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
}

function maxDiff(a: RgbaImage, b: RgbaImage): number {
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}

const noisyDark = (w: number, h: number, level: number, sd: number, seed = 7): RgbaImage => {
  const n = noise(seed);
  return makePixels(w, h, () => [clamp(level + sd * n()), clamp(level + sd * n()), clamp(level + sd * n()), 255]);
};

test("a flat noisy dark patch brightened 6x loses most of its lifted noise", () => {
  const low = noisyDark(96, 64, 20, 4);
  const out = brighten(low, 6);
  const lifted = channelStd(out, 1);
  assert.ok(lifted > 10, `lifted noise ${lifted}`);
  assert.ok(denoise(out, gainOf(low, out), 1) > 0);
  for (let c = 0; c < 3; c++) {
    const left = channelStd(out, c);
    assert.ok(left < lifted / 3, `channel ${c}: std ${left.toFixed(2)} after, ${lifted.toFixed(2)} before`);
  }
  // The mean stays where the curves put it.
  const mean = out.data.reduce((a, v, i) => (i % 4 === 1 ? a + v : a), 0) / (96 * 64);
  assert.ok(Math.abs(mean - 120) < 3, `mean ${mean}`);
});

test("a sharp edge stays sharp: no blur or halo beyond a level or two", () => {
  // Dark scene with a step 10 -> 40, brightened 5x: 50 | 200.
  const low = makePixels(64, 40, (x) => (x < 32 ? [10, 10, 10, 255] : [40, 40, 40, 255]));
  const out = brighten(low, 5);
  const expected = out.data.slice();
  denoise(out, gainOf(low, out), 1);
  assert.ok(maxDiff(out, { ...out, data: expected }) <= 2, `max change ${maxDiff(out, { ...out, data: expected })}`);
  // With noise on both sides: the step keeps its full height within one pixel of the edge.
  const nlow = makePixels(64, 40, (x) => {
    const v = x < 32 ? 10 : 40;
    return [v, v, v, 255];
  });
  const n = noise(3);
  for (let i = 0; i < nlow.data.length; i++) if (i % 4 !== 3) nlow.data[i] = clamp(nlow.data[i]! + 2 * n());
  const nout = brighten(nlow, 5);
  denoise(nout, gainOf(nlow, nout), 1);
  for (let y = 2; y < 38; y++) {
    const row = (x: number): number => nout.data[(y * 64 + x) * 4 + 1]!;
    assert.ok(row(30) < 75 && row(31) < 75, `row ${y}: dark side next to the edge ${row(30)}, ${row(31)}`);
    assert.ok(row(32) > 175 && row(33) > 175, `row ${y}: bright side next to the edge ${row(32)}, ${row(33)}`);
  }
});

test("an image that was not brightened comes back unchanged", () => {
  const n = noise(11);
  const photo = makePixels(70, 45, (x, y) => [clamp(120 + 60 * Math.sin(x / 3) + 10 * n()), clamp(90 + y + 8 * n()), clamp(150 + 20 * n()), 200]);
  const same = { ...photo, data: photo.data.slice() };
  assert.equal(denoise(same, gainOf(photo, same), 1), 0, "gain 1: nothing to do");
  assert.deepEqual(same.data, photo.data);
  // Darkened (gain < 1): untouched too.
  const darker = brighten(photo, 0.8);
  const copy = { ...darker, data: darker.data.slice() };
  denoise(copy, gainOf(photo, copy), 1);
  assert.deepEqual(copy.data, darker.data);
  // A barely brightened (3%) textured photo moves by at most one level.
  const lifted = brighten(photo, 1.03);
  const kept = { ...lifted, data: lifted.data.slice() };
  denoise(kept, gainOf(photo, kept), 1);
  assert.ok(maxDiff(kept, lifted) <= 1, `max change ${maxDiff(kept, lifted)}`);
  // Amount 0 does nothing whatever the gain.
  const dark = noisyDark(20, 20, 15, 3);
  const bright = brighten(dark, 8);
  const untouched = { ...bright, data: bright.data.slice() };
  assert.equal(denoise(untouched, gainOf(dark, untouched), 0), 0);
  assert.deepEqual(untouched.data, bright.data);
});

/**
 * The filter computed directly, for a uniform eps: coefficients from every window of a 2x2-mean copy
 * summed from scratch (clipped at the borders), then their window means at full size. What the
 * streamed version must reproduce.
 */
function reference(img: RgbaImage, eps: number, r: number): Uint8Array {
  const { width: W, height: H, data } = img;
  const w = Math.ceil(W / 2), h = Math.ceil(H / 2);
  const copy = new Float64Array(w * h * 4); // R, G, B, Y
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      let n = 0;
      for (let y = 2 * j; y < Math.min(H, 2 * j + 2); y++) {
        for (let x = 2 * i; x < Math.min(W, 2 * i + 2); x++, n++) for (let c = 0; c < 3; c++) copy[4 * (j * w + i) + c]! += data[4 * (y * W + x) + c]!;
      }
      const k = 4 * (j * w + i);
      for (let c = 0; c < 3; c++) copy[k + c]! /= n;
      copy[k + 3] = 0.2126 * copy[k]! + 0.7152 * copy[k + 1]! + 0.0722 * copy[k + 2]!;
    }
  }
  const win = (i: number, j: number, f: (k: number) => void): number => {
    let n = 0;
    for (let v = Math.max(0, j - r); v <= Math.min(h - 1, j + r); v++) {
      for (let u = Math.max(0, i - r); u <= Math.min(w - 1, i + r); u++, n++) f(v * w + u);
    }
    return n;
  };
  const coef = new Float64Array(w * h * 4);
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      const s = new Float64Array(5);
      const n = win(i, j, (k) => {
        const Y = copy[4 * k + 3]!;
        s[0]! += Y;
        s[1]! += Y * Y;
        for (let c = 0; c < 3; c++) s[2 + c]! += copy[4 * k + c]!;
      });
      const m = s[0]! / n;
      const v = s[1]! / n - m * m;
      const a = v > 0 ? v / (v + eps) : 0;
      const k = 4 * (j * w + i);
      coef[k] = a;
      for (let c = 0; c < 3; c++) coef[k + 1 + c] = ((1 - a) * s[2 + c]!) / n;
    }
  }
  // Stage 2 at full size: each copy pixel's coefficients stand for its 2x2 block, window radius 2r.
  const R = 2 * r;
  const out = data.slice();
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = new Float64Array(4);
      let n = 0;
      for (let v = Math.max(0, y - R); v <= Math.min(H - 1, y + R); v++) {
        for (let u = Math.max(0, x - R); u <= Math.min(W - 1, x + R); u++, n++) {
          for (let c = 0; c < 4; c++) s[c]! += coef[4 * ((v >> 1) * w + (u >> 1)) + c]!;
        }
      }
      const p = 4 * (y * W + x);
      for (let c = 0; c < 3; c++) out[p + c] = clamp((s[0]! * data[p + c]! + s[1 + c]!) / n);
    }
  }
  return out;
}

/** A "before" grid that makes every cell's gain exactly `gain` relative to `after`. */
function uniformGain(after: RgbaImage, gain: number): LumaGrid {
  const g = lumaGrid(after);
  return { ...g, mean: g.mean.map((m) => (m + 2) / gain - 2) };
}

test("the streamed filter equals the filter computed window by window, at any size", () => {
  const gain = 4;
  for (const [w, h] of [[23, 17], [1, 9], [9, 1], [1, 1], [3, 2], [2, 2], [40, 7], [7, 40]] as const) {
    const n = noise(w * 100 + h);
    const img = makePixels(w, h, (x, y) => [clamp(90 + 40 * n()), clamp(((x * 7 + y * 3) % 50) * 4 + 20 * n()), clamp(x < w / 2 ? 30 : 200), 255]);
    const before = uniformGain(img, gain);
    const eps = cellEps(before, lumaGrid(img), 1)[0]!;
    assert.ok(eps > 10, `eps ${eps}`);
    const expected = reference(img, eps, DENOISE_DEFAULTS.radius);
    const out = { ...img, data: img.data.slice() };
    assert.ok(denoise(out, { before, after: lumaGrid(img) }, 1) > 0);
    let worst = 0;
    for (let i = 0; i < out.data.length; i++) worst = Math.max(worst, Math.abs(out.data[i]! - expected[i]!));
    assert.ok(worst <= 1, `${w}x${h}: differs from the reference by ${worst} levels`);
    for (let i = 3; i < out.data.length; i += 4) assert.equal(out.data[i], 255, "alpha untouched");
  }
});

test("1xN and Nx1 strips: noise reduced, nothing out of range", () => {
  for (const [w, h] of [[1, 301], [301, 1]] as const) {
    const low = noisyDark(w, h, 18, 4, w + h);
    const out = brighten(low, 6);
    const lifted = channelStd(out, 0);
    denoise(out, gainOf(low, out), 1);
    assert.ok(channelStd(out, 0) < lifted / 2, `${w}x${h}: ${channelStd(out, 0)} vs ${lifted}`);
  }
});

test("argument checks and the auto amount", () => {
  const img = noisyDark(8, 8, 20, 2);
  assert.throws(() => denoise(img, { before: lumaGrid(noisyDark(8, 9, 20, 2)), after: lumaGrid(img) }, 1), /grids differ: 8x9 before the curves, 8x8 after/);
  assert.throws(() => denoise(img, gainOf(img, img), 1.5), /amount must be in 0..1/);
  const noise = measureNoise(img);
  assert.equal(denoiseAmount(0.3, noise), 0.3);
  assert.equal(denoiseAmount(undefined, noise), denoiseAmount("auto", noise));
  // Too small to measure noise (8x8 has too few Laplacian samples per cell): the calibrated level.
  assert.ok(Number.isNaN(noise));
  assert.equal(denoiseAmount("auto", noise), 1);
});

test("measureNoise: grey Gaussian noise of std 2 reads about 2, a clean gradient far less", () => {
  const n = noise(5);
  const gauss = (): number => {
    const u = (n() + 1) / 2 || 1e-9, v = (n() + 1) / 2;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const noisy = makePixels(128, 96, () => {
    const v = clamp(60 + 2 * gauss());
    return [v, v, v, 255];
  });
  const measured = measureNoise(noisy);
  assert.ok(measured > 1.6 && measured < 2.5, `measured ${measured}`);
  const clean = makePixels(128, 96, (x, y) => [40 + (x >> 2), 50 + (y >> 2), 60, 255]);
  assert.ok(measureNoise(clean) < 0.3, `clean ${measureNoise(clean)}`);
  // auto: more smoothing for the noisy input, and at most 1.
  assert.ok(denoiseAmount("auto", measured) === Math.min(1, measured / AUTO_FULL_NOISE));
  assert.ok(denoiseAmount("auto", measureNoise(clean)) < 0.2);
  // A lossy source's auto amount has a floor (its codec hid the noise from the measurement); a
  // noisier reading, and an explicit amount, are taken as they are.
  assert.equal(denoiseAmount("auto", measureNoise(clean), true), LOSSY_MIN_AMOUNT);
  assert.equal(denoiseAmount("auto", measured, true), Math.min(1, measured / AUTO_FULL_NOISE));
  assert.equal(denoiseAmount(0.1, measured, true), 0.1);
});

test("measureNoise samples large images evenly: the same reading as every cell, at a fraction of the work", () => {
  // 1600x1280 = 50x40 cells: every 3rd cell row and column (at least NOISE_MIN_CELLS cells) is read.
  const n = noise(9);
  const gauss = (): number => {
    const u = (n() + 1) / 2 || 1e-9, v = (n() + 1) / 2;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  // Left half noisy (std 3), right half clean: the 10th percentile reads the clean half's level.
  const mixed = makePixels(1600, 1280, (x, y) => {
    const v = clamp(70 + (x < 800 ? 3 * gauss() : 0) + ((x + y) >> 6));
    return [v, v, v, 255];
  });
  assert.ok(measureNoise(mixed) < 0.3, `mixed ${measureNoise(mixed)}`);
  const noisy = makePixels(1600, 1280, () => {
    const v = clamp(90 + 2 * gauss());
    return [v, v, v, 255];
  });
  const measured = measureNoise(noisy);
  assert.ok(measured > 1.6 && measured < 2.5, `measured ${measured}`);
  // Which cells were read: noise of std 4 only in cells the sample skips reads as (nearly) clean;
  // only the Laplacian's one-pixel reach across a sampled cell's border sees it.
  const k = Math.floor(Math.sqrt((50 * 40) / NOISE_MIN_CELLS));
  assert.equal(k, 3);
  const hidden = makePixels(1600, 1280, (x, y) => {
    const sampled = Math.floor(x / 32) % k === 0 && Math.floor(y / 32) % k === 0;
    const v = clamp(90 + (sampled ? 0 : 4 * gauss()));
    return [v, v, v, 255];
  });
  assert.ok(measureNoise(hidden) < 0.5, `hidden ${measureNoise(hidden)}`);
});

test("lumaGrid: block means with partial edge cells", () => {
  const img = makePixels(5, 3, (x) => (x < 4 ? [100, 100, 100, 255] : [200, 200, 200, 255]));
  const g = lumaGrid(img, 4);
  assert.deepEqual([g.cols, g.rows], [2, 1]);
  assert.deepEqual([...g.mean], [100, 200]);
});

test("pipeline: denoise option through the engine", async () => {
  const engine = await createNodeEngine();
  const limits = { maxSourcePixels: 1e6, maxOutputPixels: 1e6, maxFullModePixels: 1e6 };
  const base: PipelineOptions = { fit: "scale-down", format: "png", quality: 85, strength: 1, mode: "fast", orient: true, limits };
  const low = noisyDark(64, 48, 25, 4);
  const png = await encode(low, "png");
  const run = async (o: Partial<PipelineOptions>): Promise<RgbaImage> => decode((await engine.enhance(png, { ...base, ...o })).bytes, "png");
  // strength 0: the model is not run, so nothing is brightened and nothing smoothed.
  assert.deepEqual((await run({ strength: 0, denoise: 1 })).data, low.data);
  const plain = await run({ denoise: 0 });
  const smooth = await run({});
  if (lumaGrid(plain).mean[0]! > 1.2 * lumaGrid(low).mean[0]!) {
    assert.ok(channelStd(smooth, 1) < channelStd(plain, 1), `std ${channelStd(smooth, 1)} with denoise, ${channelStd(plain, 1)} without`);
  }
  await assert.rejects(engine.enhance(png, { ...base, denoise: 2 }), (e: unknown) => e instanceof HttpError && e.status === 400 && /denoise/.test(e.message));
});
