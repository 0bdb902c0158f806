import { test } from "node:test";
import assert from "node:assert/strict";
import { atReferenceGain, blockiness, meanBrightness, psnr, ssim, ssimChannel } from "../../scripts/lib/metrics.ts";
import { makePixels } from "../helpers/fixtures.ts";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const grey = (w: number, h: number, f: (x: number, y: number) => number) =>
  makePixels(w, h, (x, y) => {
    const v = f(x, y);
    return [v, v, v, 255];
  });

test("PSNR: 0 vs 0.2 everywhere is 10 log10(1 / 0.04) = 13.979 dB; identical is Infinity; alpha ignored", () => {
  const a = grey(3, 2, () => 0);
  const b = grey(3, 2, () => 51);
  close(psnr(a, b), 10 * Math.log10(25));
  assert.equal(psnr(a, a), Infinity);
  const c = makePixels(3, 2, () => [0, 0, 0, 7]);
  assert.equal(psnr(a, c), Infinity);
  // Error in one channel of one pixel: MSE = 0.2^2 / (3 * 6).
  const d = makePixels(3, 2, (x, y) => (x === 0 && y === 0 ? [51, 0, 0, 255] : [0, 0, 0, 255]));
  close(psnr(a, d), 10 * Math.log10(18 / 0.04));
  assert.throws(() => psnr(a, grey(2, 3, () => 0)), /differ in size/);
});

test("mean brightness is the mean of R, G and B in [0, 1]", () => {
  close(meanBrightness(makePixels(2, 1, (x) => (x === 0 ? [255, 0, 0, 0] : [0, 0, 0, 255]))), 1 / 6);
});

test("SSIM of identical images is 1, also for constant images", () => {
  const a = grey(9, 8, (x, y) => (x * 29 + y * 7) & 255);
  close(ssim(a, a), 1);
  close(ssim(grey(7, 7, () => 100), grey(7, 7, () => 100)), 1);
});

test("SSIM, one 7x7 window, constants 0 and 0.2: C1 / (0.2^2 + C1) = 1/401", () => {
  close(ssim(grey(7, 7, () => 0), grey(7, 7, () => 51)), 1 / 401);
});

test("SSIM, one 7x7 window, checkerboard vs its inverse: sample covariance (49/48) as scikit-image", () => {
  // x has 25 ones and 24 zeros; y = 1 - x.
  const x = grey(7, 7, (i, j) => ((i + j) % 2 === 0 ? 255 : 0));
  const y = grey(7, 7, (i, j) => ((i + j) % 2 === 0 ? 0 : 255));
  const C1 = 1e-4;
  const C2 = 9e-4;
  const ux = 25 / 49;
  const uy = 24 / 49;
  const v = 600 / (48 * 49); // population variance 600/2401, times 49/48
  const expected = ((2 * ux * uy + C1) * (-2 * v + C2)) / ((ux * ux + uy * uy + C1) * (2 * v + C2));
  close(expected, -0.9956486711846586);
  close(ssim(x, y), expected);
});

test("SSIM averages the windows that fit (border cropped) and then the channels", () => {
  // 8x7: two windows. Left column differs from the rest, so only the first window sees it.
  const a = grey(8, 7, () => 0);
  const b = grey(8, 7, (i) => (i === 0 ? 255 : 0));
  const C1 = 1e-4;
  const C2 = 9e-4;
  const uy = 7 / 49;
  const vy = (49 / 48) * (7 / 49 - uy * uy);
  const first = (C1 * C2) / ((uy * uy + C1) * (vy + C2));
  close(ssimChannel(a, b, 0), (first + 1) / 2);
  // Only the red channel differs: the mean over channels is (s + 1 + 1) / 3.
  const c = makePixels(8, 7, (i) => [i === 0 ? 255 : 0, 0, 0, 255]);
  close(ssim(a, c), ((first + 1) / 2 + 2) / 3);
  assert.throws(() => ssim(grey(6, 7, () => 0), grey(6, 7, () => 0)), /at least 7x7/);
});

test("atReferenceGain: an output at half the reference's brightness is scaled back to it; the gain is the least-squares one", () => {
  const ref = makePixels(8, 6, (x, y) => [20 * x + 10, 30 * y + 5, 100, 255]);
  const dark = makePixels(8, 6, (x, y) => [10 * x + 5, 15 * y + 2.5, 50, 200]);
  const r = atReferenceGain(dark, ref);
  assert.ok(Math.abs(r.gain - 2) < 0.01, `gain ${r.gain}`);
  assert.ok(psnr(dark, ref) < 16);
  assert.ok(psnr(r.image, ref) > 45, `${psnr(r.image, ref)}`);
  // Alpha is kept; values clip at 255 rather than wrap.
  assert.equal(r.image.data[3], 200);
  const bright = atReferenceGain(makePixels(2, 1, (x) => (x === 0 ? [250, 250, 250, 255] : [10, 10, 10, 255])), makePixels(2, 1, () => [255, 255, 255, 255]));
  assert.ok(bright.gain > 1);
  assert.equal(bright.image.data[0], 255);
  // Structure is not repaired: noise on top of the right gain still costs.
  const noisy = makePixels(8, 6, (x, y) => [10 * x + 5 + ((x + y) % 2 ? 12 : -6), 15 * y + 2.5, 50, 255]);
  assert.ok(psnr(atReferenceGain(noisy, ref).image, ref) < 30);
});

test("blockiness: 1 for a flat image and for a ramp, far above 1 for 8x8 tiles, Infinity for flat tiles", () => {
  assert.equal(blockiness(grey(32, 32, () => 40)), 1);
  close(blockiness(grey(32, 32, (x, y) => x + y)), 1);
  // Tiles with a little texture inside: the steps at the block grid dominate.
  const tiles = grey(64, 64, (x, y) => 20 * (((x >> 3) + (y >> 3)) % 3) + ((x + y) % 2));
  assert.ok(blockiness(tiles) > 10, `tiles read ${blockiness(tiles)}`);
  // The same texture shifted off the grid (tiles starting at 4): steps inside blocks, no longer at their edges.
  const shifted = grey(64, 64, (x, y) => 20 * ((((x + 4) >> 3) + ((y + 4) >> 3)) % 3) + ((x + y) % 2));
  assert.ok(blockiness(shifted) < 0.5, `shifted tiles read ${blockiness(shifted)}`);
  assert.equal(blockiness(grey(32, 32, (x, y) => 10 * ((x >> 3) % 2))), Infinity);
});
