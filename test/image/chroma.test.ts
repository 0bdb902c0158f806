import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CHROMA_DEFAULTS, COPY_MAX_PIXELS, copyFactor, smoothChroma } from "../../src/image/chroma.ts";
import { lumaGrid, type Gain } from "../../src/image/gain.ts";
import { initPixels } from "../../src/image/pixels.ts";
import { smoothChromaWasm } from "../../src/image/colour-kernels.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { gaussian, mulberry32 } from "../../src/shared/rng.ts";
import { paint } from "../helpers/fixtures.ts";

initPixels(readFileSync(fileURLToPath(new URL("../../src/image/pixels.wasm", import.meta.url))));

const cbOf = (r: number, g: number, b: number): number => -0.168736 * r - 0.331264 * g + 0.5 * b;
const crOf = (r: number, g: number, b: number): number => 0.5 * r - 0.418688 * g - 0.081312 * b;
const lumaOf = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * A lifted night photo's colour noise as lossy coding leaves it: a base colour per pixel plus a
 * chroma offset that is constant over 16 px blocks (a 4:2:0 JPEG's chroma block), luma untouched.
 */
function blotchy(w: number, h: number, base: (x: number, y: number) => [number, number, number], std: number, seed: number): RgbaImage {
  const rand = mulberry32(seed);
  const bw = Math.ceil(w / 16);
  const offsets = Array.from({ length: bw * Math.ceil(h / 16) }, () => [gaussian(rand) * std, gaussian(rand) * std] as const);
  return paint(w, h, (x, y) => {
    const [r, g, b] = base(x, y);
    const [dcb, dcr] = offsets[((y / 16) | 0) * bw + ((x / 16) | 0)]!;
    // Only Cb and Cr move: R, G, B from Y, Cb + dcb, Cr + dcr.
    return [r + 1.402 * dcr, g - 0.344136 * dcb - 0.714136 * dcr, b + 1.772 * dcb];
  });
}

/** A gain grid: `gain` everywhere (what the curves did to the image's luma), cells of 32 px. */
function uniformGain(img: RgbaImage, gain: number): Gain {
  const before = lumaGrid(img, 32);
  const after = { ...before, mean: before.mean.map((m) => m * gain) };
  return { before: { ...before, mean: before.mean.map((m) => m) }, after };
}

/** Std of Cb (or Cr) over a region. */
function chromaStd(img: RgbaImage, channel: "cb" | "cr", x0: number, y0: number, x1: number, y1: number): number {
  const f = channel === "cb" ? cbOf : crOf;
  const v: number[] = [];
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const p = 4 * (y * img.width + x);
      v.push(f(img.data[p]!, img.data[p + 1]!, img.data[p + 2]!));
    }
  }
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
}

const copy = (img: RgbaImage): RgbaImage => ({ ...img, data: img.data.slice() });

test("where the curves did not brighten, or amount is 0, not a byte changes", () => {
  const img = blotchy(96, 64, () => [90, 80, 70], 6, 1);
  for (const [gain, amount] of [[1, 1], [0.8, 1], [4, 0]] as const) {
    const out = copy(img);
    assert.equal(smoothChroma(out, uniformGain(img, gain), amount), false);
    assert.deepEqual(out.data, img.data, `gain ${gain}, amount ${amount}`);
    const wasm = copy(img);
    assert.equal(smoothChromaWasm(wasm, uniformGain(img, gain), amount, CHROMA_DEFAULTS, { minPixels: 0 }), false);
    assert.deepEqual(wasm.data, img.data);
  }
});

test("blocky colour noise in a lifted flat region is smoothed away, and luma is kept", () => {
  const img = blotchy(160, 128, () => [110, 100, 90], 6, 2);
  const out = copy(img);
  assert.equal(smoothChroma(out, uniformGain(img, 8), 1), true);
  // Away from the image's edges (windows shrink there).
  for (const c of ["cb", "cr"] as const) {
    const before = chromaStd(img, c, 16, 16, 144, 112);
    const after = chromaStd(out, c, 16, 16, 144, 112);
    assert.ok(before > 4, `the fixture has blotches (${c} std ${before.toFixed(2)})`);
    assert.ok(after < before / 2, `${c} std ${before.toFixed(2)} -> ${after.toFixed(2)}`);
  }
  for (let p = 0; p < img.data.length; p += 4) {
    const y0 = lumaOf(img.data[p]!, img.data[p + 1]!, img.data[p + 2]!);
    const y1 = lumaOf(out.data[p]!, out.data[p + 1]!, out.data[p + 2]!);
    assert.ok(Math.abs(y1 - y0) <= 1, `luma ${y0.toFixed(2)} -> ${y1.toFixed(2)} at pixel ${p / 4}`);
    assert.equal(out.data[p + 3], img.data[p + 3], "alpha is kept");
  }
});

test("more gain smooths more; a region that was not brightened keeps its colour noise", () => {
  const img = blotchy(192, 128, () => [110, 100, 90], 6, 3);
  const stds = [1.5, 3, 8].map((g) => {
    const out = copy(img);
    smoothChroma(out, uniformGain(img, g), 1);
    return chromaStd(out, "cb", 16, 16, 112, 112);
  });
  assert.ok(stds[0]! > stds[1]! && stds[1]! > stds[2]!, `Cb std by gain 1.5, 3, 8: ${stds.map((s) => s.toFixed(2)).join(", ")}`);
  // Left half brightened 8x, right half not: the right half keeps its blotches (beyond a window of the border).
  const gain = uniformGain(img, 1);
  gain.after.mean.forEach((m, i) => (gain.after.mean[i] = i % gain.after.cols < gain.after.cols / 2 ? m * 8 : m));
  const out = copy(img);
  smoothChroma(out, gain, 1);
  const liftedBefore = chromaStd(img, "cb", 8, 8, 56, 120), liftedAfter = chromaStd(out, "cb", 8, 8, 56, 120);
  assert.ok(liftedAfter < liftedBefore / 2, `the lifted half is smoothed: Cb std ${liftedBefore.toFixed(2)} -> ${liftedAfter.toFixed(2)}`);
  const keptBefore = chromaStd(img, "cb", 144, 8, 192, 120), keptAfter = chromaStd(out, "cb", 144, 8, 192, 120);
  assert.ok(keptAfter > keptBefore * 0.9, `the half left dark keeps its colour: Cb std ${keptBefore.toFixed(2)} -> ${keptAfter.toFixed(2)}`);
});

test("a colour edge stays sharp: red against green keeps each side's colour up to the edge", () => {
  const red: [number, number, number] = [170, 60, 50], green: [number, number, number] = [60, 150, 70];
  const img = blotchy(160, 96, (x) => (x < 80 ? red : green), 3, 4);
  const out = copy(img);
  smoothChroma(out, uniformGain(img, 8), 1);
  // The mean colour of columns 3 px either side of the edge stays that side's colour.
  for (const [x, ref] of [[76, red], [83, green]] as const) {
    let cr = 0;
    for (let y = 16; y < 80; y++) {
      const p = 4 * (y * 160 + x);
      cr += crOf(out.data[p]!, out.data[p + 1]!, out.data[p + 2]!) / 64;
    }
    const want = crOf(...ref);
    assert.ok(Math.abs(cr - want) < 0.15 * Math.abs(crOf(...red) - crOf(...green)), `column ${x}: Cr ${cr.toFixed(1)}, its side's ${want.toFixed(1)}`);
  }
});

/** Largest difference and share of differing bytes. */
function compare(a: Uint8Array, b: Uint8Array): { max: number; share: number } {
  let max = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d) n++;
    if (d > max) max = d;
  }
  return { max, share: n / a.length };
}

test("the WASM passes are within a level of the JS reference (f32 against f64), for any size, band and copy factor", () => {
  const cases: [number, number, number, number][] = [
    [1, 1, 8, 0], [7, 5, 8, 0], [33, 17, 8, 64], [161, 99, 3, 0], [200, 150, 8, 4096],
  ];
  for (const [w, h, gain, bandBytes] of cases) {
    const img = blotchy(w, h, (x, y) => [60 + (x * 7) % 90, 50 + (y * 5) % 80, 40 + ((x + y) * 3) % 70], 5, w * h);
    const g = uniformGain(img, gain);
    g.after.mean.forEach((m, i) => (g.after.mean[i] = i % 3 === 0 ? g.before.mean[i]! : m));
    const js = copy(img), wasm = copy(img);
    const a = smoothChroma(js, g, 0.7);
    const b = smoothChromaWasm(wasm, g, 0.7, CHROMA_DEFAULTS, { minPixels: 0, ...(bandBytes ? { bandBytes } : {}) });
    assert.equal(a, b, `${w}x${h}`);
    const { max, share } = compare(js.data, wasm.data);
    assert.ok(max <= 1 && share < 0.01, `${w}x${h}, band ${bandBytes}: at most a level apart (${max}), on ${(share * 100).toFixed(3)}% of bytes`);
  }
  // An image past COPY_MAX_PIXELS * 16 takes a coarser copy; both paths agree there too.
  assert.equal(copyFactor(2048, 2048, 4), 4);
  assert.ok(copyFactor(4096, 4096, 4) > 4 && (4096 / copyFactor(4096, 4096, 4)) ** 2 <= COPY_MAX_PIXELS);
  const big = blotchy(2600, 1700, () => [100, 90, 80], 5, 9);
  const g = uniformGain(big, 6);
  const js = copy(big), wasm = copy(big);
  smoothChroma(js, g, 1, { ...CHROMA_DEFAULTS });
  smoothChromaWasm(wasm, g, 1);
  const { max, share } = compare(js.data, wasm.data);
  assert.ok(max <= 1 && share < 0.01, `a 4.4 MP image (copy factor 5): at most a level apart (${max}), on ${(share * 100).toFixed(3)}% of bytes`);
});

test("invalid amounts and radii are refused", () => {
  const img = blotchy(32, 32, () => [100, 90, 80], 3, 5);
  assert.throws(() => smoothChroma(img, uniformGain(img, 4), 1.5), /0\.\.1/);
  assert.throws(() => smoothChroma(img, uniformGain(img, 4), 1, { ...CHROMA_DEFAULTS, radius: 0 }), /radius/);
});
