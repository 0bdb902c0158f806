import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { applyCurves, curveTable, type CurveMaps } from "../../src/image/curves.ts";
import { denoise, DENOISE_DEFAULTS } from "../../src/image/denoise.ts";
import { lumaGrid, type LumaGrid } from "../../src/image/gain.ts";
import { measureNoise } from "../../src/image/noise.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import {
  applyCurvesWasm, CURVES_WASM_MIN_PIXELS, denoiseWasm, initPixels, measureNoiseWasm, NOISE_WASM_MIN_PIXELS, pixelsMemory,
  type FilterOptions,
} from "../../src/image/pixels.ts";
import { AREA_WASM_MIN_PIXELS, areaDownscaleWasm } from "../../src/image/area-kernel.ts";
import { areaDownscale, estimationDims } from "../../src/image/resize.ts";
import { mulberry32 } from "../../src/shared/rng.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const wasmBytes = readFileSync(join(root, "src/image/pixels.wasm"));
initPixels(wasmBytes);

/** Deterministic uniform numbers in [0, 1). */
const rng = mulberry32;
const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)));

/** A dark, smoothly varying scene with sensor noise; random alpha so a lost alpha byte shows. */
function noisyDark(w: number, h: number, seed: number): RgbaImage {
  const n = rng(seed);
  const fx = 20 + n() * 80, fy = 20 + n() * 80, ph = n() * 6;
  const data = new Uint8Array(w * h * 4);
  for (let y = 0, p = 0; y < h; y++) {
    for (let x = 0; x < w; x++, p += 4) {
      const base = 25 + 20 * Math.sin(x / fx + ph) * Math.cos(y / fy) + (x > w / 2 ? 15 : 0);
      for (let c = 0; c < 3; c++) data[p + c] = clamp(base * (0.7 + 0.2 * c) + 8 * (n() - 0.5));
      data[p + 3] = (n() * 256) | 0;
    }
  }
  return { width: w, height: h, data };
}

/** Uniformly random bytes (the curves' worst case: every table column). */
function randomImage(w: number, h: number, seed: number): RgbaImage {
  const n = rng(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = (n() * 256) | 0;
  return { width: w, height: h, data };
}

/** Smooth random maps in [-1, 1] (a tanh of a few waves), some values exactly at -1 and 1. */
function smoothMaps(cw: number, ch: number, seed: number, channels = 3): CurveMaps {
  const n = rng(seed);
  const data = new Float32Array(channels * cw * ch);
  for (let c = 0; c < channels; c++) {
    const a = n() * 6, b = n() * 6, kx = 0.05 + n() * 0.4, ky = 0.05 + n() * 0.4, bias = -1.2 + n() * 1.4;
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const v = Math.tanh(bias + 1.5 * Math.sin(x * kx + a) * Math.cos(y * ky + b));
        data[(c * ch + y) * cw + x] = v > 0.97 ? 1 : v < -0.97 ? -1 : v;
      }
    }
  }
  return { data, channels, width: cw, height: ch };
}

/** Bytes that differ, and the largest difference. */
function compare(a: Uint8Array, b: Uint8Array): { count: number; max: number } {
  assert.equal(a.length, b.length);
  let count = 0, max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d) {
      count++;
      if (d > max) max = d;
    }
  }
  return { count, max };
}

const SIZES: [number, number][] = [[1, 1], [1, 9], [9, 1], [1, 40], [40, 1], [2, 2], [3, 2], [5, 3], [23, 17], [37, 61], [301, 199], [1224, 816]];

test("the module imports nothing and exports its memory", () => {
  const m = new WebAssembly.Module(wasmBytes);
  assert.deepEqual(WebAssembly.Module.imports(m), []);
  assert.ok(WebAssembly.Module.exports(m).some((e) => e.name === "memory" && e.kind === "memory"));
  assert.ok(WebAssembly.validate(wasmBytes));
});

// The committed file came from an earlier run of the same command: equal bytes also show the build is deterministic.
test("src/image/pixels.wasm is what npm run build:wasm makes of assembly/pixels.ts", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const args = pkg.scripts["build:wasm"]!.split(/\s+/);
  assert.equal(args.shift(), "asc");
  const o = args.indexOf("-o");
  assert.ok(o >= 0 && args[o + 1] === "src/image/pixels.wasm", "build:wasm writes src/image/pixels.wasm with -o");
  const dir = mkdtempSync(join(tmpdir(), "pixels-wasm-"));
  try {
    args[o + 1] = join(dir, "pixels.wasm");
    execFileSync(process.execPath, [join(root, "node_modules/assemblyscript/bin/asc.js"), ...args], { cwd: root, stdio: "pipe" });
    assert.ok(readFileSync(args[o + 1]!).equals(wasmBytes), "src/image/pixels.wasm differs from a fresh build: run npm run build:wasm");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("curves: the WASM table path matches applyCurves (within 1 level on < 0.2% of bytes) at awkward sizes", () => {
  // The WASM path at every size (by default applyCurvesWasm leaves small images to the JS).
  const wasmCurves = (img: RgbaImage, maps: CurveMaps, iterations: number, strength: number, out: Uint8Array): void => {
    applyCurvesWasm(img, maps, iterations, strength, out, "auto", { minPixels: 0 });
  };
  let seed = 1;
  for (const [w, h] of SIZES) {
    // Maps smaller than, equal to and larger than the image, and the model's 128x85.
    const mapSizes: [number, number][] = w * h > 10000 ? [[128, 85], [7, 5]] : [[1, 1], [2, 3], [Math.max(1, w - 1), h + 2], [128, 85]];
    for (const [cw, ch] of mapSizes) {
      for (const [iterations, strength] of [[8, 1], [8, 0.37], [3, 1]] as const) {
        const img = (seed & 1 ? noisyDark : randomImage)(w, h, seed);
        const maps = smoothMaps(cw, ch, seed++);
        const expected = applyCurves(img, maps, iterations, strength, new Uint8Array(img.data.length)).data;
        const out = new Uint8Array(img.data.length);
        wasmCurves(img, maps, iterations, strength, out);
        const { count, max } = compare(expected, out);
        const label = `${w}x${h}, maps ${cw}x${ch}, ${iterations} iterations, strength ${strength}`;
        assert.ok(max <= 1, `${label}: differs by ${max} levels`);
        assert.ok(count <= Math.max(1, 0.002 * out.length), `${label}: ${count} of ${out.length} bytes differ`);
        for (let i = 3; i < out.length; i += 4) assert.equal(out[i], img.data[i], `${label}: alpha kept`);
      }
    }
  }
});

test("curves: applyCurvesWasm works in place, like applyCurves' default output; small images go to the JS", () => {
  const img = noisyDark(512, 300, 5);
  assert.ok(img.width * img.height >= CURVES_WASM_MIN_PIXELS);
  const maps = smoothMaps(128, 85, 6);
  const expected = applyCurves(img, maps, 8, 1, new Uint8Array(img.data.length)).data;
  const copy = { ...img, data: img.data.slice() };
  const res = applyCurvesWasm(copy, maps, 8, 1);
  assert.equal(res.data, copy.data);
  const { count, max } = compare(expected, copy.data);
  assert.ok(max <= 1 && count < 0.002 * copy.data.length);
  // Small: the JS path itself.
  const small = noisyDark(64, 48, 7);
  assert.deepEqual(applyCurvesWasm(small, maps, 8, 1, new Uint8Array(small.data.length)).data, applyCurves(small, maps, 8, 1, new Uint8Array(small.data.length)).data);
});

test("curves: strengths past 1 (towards the strongest curve) match applyCurves on the WASM path too", () => {
  const img = noisyDark(512, 300, 13);
  const maps = smoothMaps(128, 85, 14);
  for (const strength of [1.01, 1.37, 2]) {
    const expected = applyCurves(img, maps, 8, strength, new Uint8Array(img.data.length)).data;
    const out = applyCurvesWasm(img, maps, 8, strength, new Uint8Array(img.data.length)).data;
    const { count, max } = compare(expected, out);
    assert.ok(max <= 1 && count < 0.002 * out.length, `strength ${strength}: ${count} bytes differ, by up to ${max}`);
  }
  assert.throws(() => applyCurvesWasm(img, maps, 8, 2.01, new Uint8Array(img.data.length)), /strength must be in 0\.\.2/);
});

test("curves: maps off the table path (values beyond [-1, 1], a map per iteration, method exact) give applyCurves' bytes", () => {
  const img = noisyDark(23, 17, 9);
  const wide = smoothMaps(5, 4, 10);
  wide.data[3] = 1.5;
  const perIteration = smoothMaps(6, 5, 11, 3 * 4);
  const cases: [CurveMaps, number, "auto" | "exact"][] = [[wide, 8, "auto"], [perIteration, 4, "auto"], [smoothMaps(6, 5, 12), 8, "exact"]];
  for (const [maps, iterations, method] of cases) {
    const expected = applyCurves(img, maps, iterations, 1, new Uint8Array(img.data.length), method).data;
    const out = applyCurvesWasm(img, maps, iterations, 1, new Uint8Array(img.data.length), method).data;
    assert.deepEqual(out, expected);
  }
  assert.throws(() => applyCurvesWasm(img, smoothMaps(5, 4, 1), 8, 1, new Uint8Array(4)), /output buffer/);
});

/** `after` grid of `img` and a `before` grid with a random gain per cell (some cells darker: eps 0). */
function randomGain(img: RgbaImage, seed: number, cell = DENOISE_DEFAULTS.cell): { before: LumaGrid; after: LumaGrid } {
  const n = rng(seed);
  const after = lumaGrid(img, cell);
  const mean = after.mean.map((m) => {
    const g = n() < 0.15 ? 0.8 : 1 + n() * 5;
    return (m + 2) / g - 2;
  });
  return { before: { ...after, mean }, after };
}

/** Filter `img` with denoise and denoiseWasm; returns denoise's result (0: nothing to do) and the bytes it changed. */
function checkFilter(label: string, img: RgbaImage, gain: { before: LumaGrid; after: LumaGrid }, radius: number, options: FilterOptions, tolerance: number): { amount: number; changed: number } {
  const s = { ...DENOISE_DEFAULTS, radius };
  const a = { ...img, data: img.data.slice() };
  const b = { ...img, data: img.data.slice() };
  const ra = denoise(a, gain, 1, s);
  const rb = denoiseWasm(b, gain, 1, s, options);
  assert.equal(rb, ra, `${label}: return value`);
  const { count, max } = compare(a.data, b.data);
  assert.ok(max <= tolerance, `${label}: ${count} bytes differ, by up to ${max} levels`);
  for (let i = 3; i < b.data.length; i += 4) assert.equal(b.data[i], img.data[i], `${label}: alpha kept`);
  return { amount: ra, changed: compare(img.data, a.data).count };
}

test("filter: denoiseWasm gives denoise's bytes at awkward sizes, radii and eps grids (f64), within a level (f32)", () => {
  let seed = 100, cases = 0, filtered = 0, changed = 0;
  for (const [w, h] of SIZES) {
    // A brightened noisy image, as the pipeline filters it.
    const dark = noisyDark(w, h, seed++);
    const maps = smoothMaps(Math.min(128, w + 3), Math.min(85, h + 2), seed++);
    const img = applyCurves(dark, maps, 8, 1, new Uint8Array(dark.data.length));
    const radii = w * h > 100000 ? [1, 2] : [1, 2, 3];
    for (const radius of radii) {
      for (const cell of w * h > 100000 ? [32] : [32, 4]) {
        const gains = [{ before: lumaGrid(dark, cell), after: lumaGrid(img, cell) }, randomGain(img, seed++, cell)];
        for (const [g, gain] of gains.entries()) {
          const label = `${w}x${h}, radius ${radius}, cell ${cell}, ${g ? "random" : "measured"} gain`;
          const res = checkFilter(label, img, gain, radius, {}, 0);
          cases++;
          if (res.amount > 0) filtered++;
          changed += res.changed;
          // A 1-byte band: four copy rows per call, so the row ring wraps all the time.
          checkFilter(`${label}, small bands`, img, gain, radius, { bandBytes: 1 }, 0);
          checkFilter(`${label}, f32`, img, gain, radius, { precision: "f32" }, 1);
        }
      }
    }
  }
  // The comparisons above are not of untouched images.
  assert.ok(filtered >= 0.6 * cases && changed > 1e6, `${filtered} of ${cases} cases filtered, ${changed} bytes changed`);
});

test("filter: grids measured on a smaller copy (cells stand for larger regions), and nothing to do", () => {
  const img = applyCurves(noisyDark(301, 199, 7), smoothMaps(128, 85, 8), 8, 1, new Uint8Array(301 * 199 * 4));
  const small = noisyDark(120, 80, 9);
  const gain = randomGain(small, 10);
  checkFilter("301x199 with a 120x80 grid", img, gain, 1, {}, 0);
  // Gain <= 1 everywhere: nothing changes, both return 0.
  const flat = { before: gain.after, after: gain.after };
  checkFilter("no gain", img, flat, 1, {}, 0);
  assert.equal(denoiseWasm({ ...img, data: img.data.slice() }, gain, 0), 0);
  assert.throws(() => denoiseWasm(img, gain, 2), /amount/);
});

test("the kernels' one WASM memory stays small however large the image, and jobs reuse it", () => {
  const img = applyCurves(noisyDark(1224, 816, 3), smoothMaps(128, 85, 4), 8, 1, new Uint8Array(1224 * 816 * 4));
  const job = (seed: number): void => {
    applyCurvesWasm(img, smoothMaps(128, 85, seed), 8, 1, new Uint8Array(img.data.length));
    denoiseWasm({ ...img, data: img.data.slice() }, randomGain(img, seed + 1), 1);
  };
  for (let i = 0; i < 10; i++) job(5 + 2 * i);
  const { bytes } = pixelsMemory();
  assert.ok(bytes > 0 && bytes <= 3 * 1024 * 1024, `memory ${bytes} bytes (the image is ${img.data.length})`);
  // Reset per job: the memory is reused, not grown per job (its size is the largest job's).
  for (let i = 0; i < 10; i++) job(5 + 2 * i);
  assert.equal(pixelsMemory().bytes, bytes);
});

/** A large image made quickly: gradients plus hashed noise (no per-pixel floating point). */
function bigImage(w: number, h: number, seed: number): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  let s = seed >>> 0 || 1;
  for (let y = 0, p = 0; y < h; y++) {
    for (let x = 0; x < w; x++, p += 4) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const base = ((x * 97) / w + (y * 61) / h + (x > w / 3 ? 40 : 0)) | 0;
      data[p] = base + (s & 15);
      data[p + 1] = base + ((s >>> 8) & 31);
      data[p + 2] = (base >> 1) + ((s >>> 16) & 7);
      data[p + 3] = s >>> 24;
    }
  }
  return { width: w, height: h, data };
}

/** The same pixels at an odd byte offset of a larger buffer (no alignment assumed). */
function unaligned(img: RgbaImage): RgbaImage {
  const buf = new Uint8Array(img.data.length + 3);
  const data = buf.subarray(1, 1 + img.data.length);
  data.set(img.data);
  return { ...img, data };
}

test("noise: measureNoiseWasm returns measureNoise's number exactly, at awkward sizes, cells and bands", () => {
  let seed = 300, cases = 0, finite = 0;
  const sizes: [number, number][] = [...SIZES, [2, 40], [40, 2], [64, 3], [3, 64], [33, 33], [4000, 3000]];
  for (const [w, h] of sizes) {
    const imgs = w * h > 2e6 ? [bigImage(w, h, seed++)] : [noisyDark(w, h, seed++), randomImage(w, h, seed++), bigImage(w, h, seed++)];
    // Default cells, cells that split the image unevenly or sample it sparsely, one larger than it.
    const cells = w * h > 2e6 ? [32, 7] : w * h > 1e5 ? [32, 1, 5, 33, 100] : [32, 1, 2, 3, 4, 7, 8, 9, 17, 64];
    for (const img of imgs) {
      for (const cell of cells) {
        const expected = measureNoise(img, cell);
        const label = `${w}x${h}, cell ${cell}`;
        assert.equal(measureNoiseWasm(img, cell, { minPixels: 0 }), expected, label);
        // One row per call: every band boundary.
        if (w * h <= 1e6) assert.equal(measureNoiseWasm(img, cell, { minPixels: 0, bandBytes: 1 }), expected, `${label}, small bands`);
        cases++;
        if (Number.isFinite(expected)) finite++;
      }
    }
  }
  // Not all NaN (small images have too few cells of 32 or more centre pixels): 73 of 497 measured a level.
  assert.ok(finite >= 60, `${finite} of ${cases} cases measured a noise level`);
  // The default cell, an unaligned buffer, and the small-image and odd-cell paths (the JS itself).
  const img = noisyDark(1224, 816, 7);
  assert.equal(measureNoiseWasm(img), measureNoise(img));
  assert.equal(measureNoiseWasm(unaligned(img)), measureNoise(img));
  const small = noisyDark(40, 30, 8);
  assert.ok(small.width * small.height < NOISE_WASM_MIN_PIXELS);
  assert.equal(measureNoiseWasm(small), measureNoise(small));
  assert.equal(measureNoiseWasm(img, 2.5), measureNoise(img, 2.5));
});

test("area: areaDownscaleWasm gives areaDownscale's bytes at awkward sizes and ratios (carries exact and not)", () => {
  let seed = 400;
  const sizes: [number, number][] = [...SIZES, [2, 40], [40, 2], [33, 33], [816, 1224], [4000, 3000]];
  for (const [w, h] of sizes) {
    const img = w * h > 2e6 ? bigImage(w, h, seed++) : (seed & 1 ? noisyDark : randomImage)(w, h, seed++);
    const est = estimationDims(w, h, 128);
    const r = (f: number, n: number): number => Math.max(1, Math.min(n, Math.round(n * f)));
    // Identity, to one pixel, the estimation copy, halves (exact carries), 1/9.6 and other ratios
    // whose carries are not (one addition at a time), one row or column, one pixel less.
    const targets: [number, number][] = [
      [w, h], [1, 1], [est.width, est.height], [r(0.5, w), r(0.5, h)], [r(1 / 9.6, w), r(1 / 9.6, h)],
      [r(0.77, w), r(0.31, h)], [r(0.3, w), r(0.9, h)], [1, h], [w, 1], [Math.max(1, w - 1), Math.max(1, h - 1)],
    ];
    for (const [tw, th] of targets) {
      const label = `${w}x${h} -> ${tw}x${th}`;
      const expected = areaDownscale(img, tw, th);
      const out = areaDownscaleWasm(img, tw, th, { minPixels: 0 });
      assert.equal(out.width, tw, label);
      assert.equal(out.height, th, label);
      const { count, max } = compare(expected.data, out.data);
      assert.equal(count, 0, `${label}: ${count} bytes differ, by up to ${max}`);
      if (w * h <= 1e6) {
        const banded = areaDownscaleWasm(img, tw, th, { minPixels: 0, bandBytes: 1 });
        assert.equal(compare(expected.data, banded.data).count, 0, `${label}, small bands`);
      }
    }
  }
  // Unaligned buffers; small sources and enlarging go to the JS.
  const img = noisyDark(301, 199, 9);
  assert.equal(compare(areaDownscaleWasm(unaligned(img), 128, 85).data, areaDownscale(img, 128, 85).data).count, 0);
  const small = noisyDark(40, 30, 10);
  assert.ok(small.width * small.height < AREA_WASM_MIN_PIXELS);
  assert.deepEqual(areaDownscaleWasm(small, 7, 5).data, areaDownscale(small, 7, 5).data);
  assert.deepEqual(areaDownscaleWasm(img, 302, 199).data, areaDownscale(img, 302, 199).data);
});

test("area: where the JS's one-at-a-time additions round, the WASM rounds the same (a byte would differ otherwise)", () => {
  // Rows whose JS sums (a straddler's carry plus whole pixels, one addition at a time) differ from
  // the exact sums by an ulp that moves a byte: 40 -> 15 column 4 is 668 in the JS, 667.99... exactly.
  const rows: number[][] = [
    [1, 89, 22, 0, 0, 0, 134, 233, 128, 242, 255, 255, 248, 240, 1, 7, 252, 174, 255, 0, 0, 128, 255, 1, 54, 1, 255, 63, 0, 222, 0, 1, 55, 161, 128, 253, 35, 128, 128, 128],
    [231, 0, 255, 255, 235, 41, 1, 216, 128, 255, 213, 48, 128, 128, 154, 0, 252, 100, 179, 153],
  ];
  const widths = [15, 7];
  for (const [i, px] of rows.entries()) {
    const img: RgbaImage = { width: px.length, height: 1, data: new Uint8Array(px.flatMap((v) => [v, v, v, v])) };
    const expected = areaDownscale(img, widths[i]!, 1).data;
    assert.deepEqual(areaDownscaleWasm(img, widths[i]!, 1, { minPixels: 0 }).data, expected);
    // Stacked rows: the same through the vertical sums.
    const tall: RgbaImage = { width: px.length, height: 5, data: new Uint8Array(5 * img.data.length).map((_, k) => img.data[k % img.data.length]!) };
    assert.deepEqual(areaDownscaleWasm(tall, widths[i]!, 2, { minPixels: 0 }).data, areaDownscale(tall, widths[i]!, 2).data);
  }
  // And many small random rows of such values.
  const n = rng(77);
  for (let t = 0; t < 3000; t++) {
    const W = 3 + ((n() * 60) | 0), w = 1 + ((n() * (W - 1)) | 0);
    const data = new Uint8Array(W * 4);
    for (let k = 0; k < data.length; k++) data[k] = n() < 0.5 ? (n() * 256) | 0 : [0, 255, 128, 1][(n() * 4) | 0]!;
    const img: RgbaImage = { width: W, height: 1, data };
    assert.deepEqual(areaDownscaleWasm(img, w, 1, { minPixels: 0 }).data, areaDownscale(img, w, 1).data, `${W} -> ${w}`);
  }
});

test("noise and area at 4000x3000 keep the kernels' memory small", () => {
  const img = bigImage(4000, 3000, 11);
  const est = estimationDims(4000, 3000, 128);
  assert.equal(measureNoiseWasm(img), measureNoise(img));
  assert.equal(compare(areaDownscaleWasm(img, est.width, est.height).data, areaDownscale(img, est.width, est.height).data).count, 0);
  const { bytes } = pixelsMemory();
  assert.ok(bytes > 0 && bytes <= 3 * 1024 * 1024, `memory ${bytes} bytes (the image is ${img.data.length})`);
});
