// Each Zero-DCE loss against values worked out by hand on tiny tensors (see the comments for the sums).
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../scripts/tf/backend.ts";
import { colorLoss, consistencyLoss, defaultLossWeights, exposureLoss, spatialLoss, totalLoss, tvLoss } from "../../scripts/tf/losses.ts";

/** NHWC image whose pixel (y, x) has RGB `f(y, x)`. */
function image(n: number, h: number, w: number, f: (b: number, y: number, x: number) => [number, number, number]): tf.Tensor4D {
  const d = new Float32Array(n * h * w * 3);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) d.set(f(b, y, x), ((b * h + y) * w + x) * 3);
  return tf.tensor4d(d, [n, h, w, 3]);
}

const near = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

describe("Zero-DCE losses", () => {
  before(async () => {
    await setupBackend("wasm", { log: () => {} });
  });

  it("L_spa: pooled 4-neighbour differences, zero padded, averaged", () => {
    // 5x9 image: 4x4 pooling keeps two blocks (the 5th row and 9th column are dropped, set to junk).
    // Original block means 0.2 | 0.4 (channels differ, mean counts); enhanced 0.5 | 0.6.
    // d = org - enh = [-0.3, -0.2]. Block 0: left 0.09, right (d0-d1)^2 0.01, up 0.09, down 0.09 = 0.28;
    // block 1: left 0.01, right/up/down 0.04 each = 0.13. Mean = 0.205.
    const org = image(1, 5, 9, (_, y, x) => (y >= 4 || x >= 8 ? [1, 1, 1] : x < 4 ? [0.1, 0.2, 0.3] : [0.4, 0.5, 0.3]));
    const enh = image(1, 5, 9, (_, y, x) => (y >= 4 || x >= 8 ? [0, 0, 0] : x < 4 ? [0.5, 0.5, 0.5] : [0.6, 0.7, 0.5]));
    near(spatialLoss(org, enh).dataSync()[0]!, 0.205);
    near(spatialLoss(org, org).dataSync()[0]!, 0);
  });

  it("L_exp: mean of (patch mean - E)^2", () => {
    // Two 16x16 patches with channel means 0.3 and 0.9: ((0.3-0.6)^2 + (0.9-0.6)^2) / 2 = 0.09.
    const enh = image(1, 16, 32, (_, __, x) => (x < 16 ? [0.1, 0.3, 0.5] : [0.9, 0.8, 1.0]));
    near(exposureLoss(enh, 16, 0.6).dataSync()[0]!, 0.09);
    // Patch 8 on the same image: four patches, same two means.
    near(exposureLoss(enh, 8, 0.6).dataSync()[0]!, 0.09);
    near(exposureLoss(enh, 16, 0.3).dataSync()[0]!, (0 + 0.36) / 2);
  });

  it("L_col: sqrt of the sum of squared squared channel-mean differences, batch mean", () => {
    // Image 0 means (0.2, 0.4, 0.5): Drg 0.04, Drb 0.09, Dgb 0.01 -> sqrt(0.0016+0.0081+0.0001).
    // Image 1 is grey: 0. Mean over the batch.
    const enh = image(2, 2, 2, (b) => (b === 0 ? [0.2, 0.4, 0.5] : [0.3, 0.3, 0.3]));
    near(colorLoss(enh).dataSync()[0]!, Math.sqrt(0.0098) / 2, 1e-6);
    // A grey image has a finite (zero) gradient, not NaN.
    const g = tf.grad((x: tf.Tensor) => colorLoss(x as tf.Tensor4D))(image(1, 2, 2, () => [0.3, 0.3, 0.3]));
    assert.ok(Array.from(g.dataSync()).every((v) => v === 0));
  });

  it("L_TV: 2 * (h_tv / ((H-1)W) + w_tv / (H(W-1))) / batch, channels summed", () => {
    // Map [[0,1,3],[2,2,2]]: vertical diffs 2,1,-1 -> 6; horizontal 1,2,0,0 -> 5. Two identical
    // channels and two identical images: h_tv 24 / 3 = 8, w_tv 20 / 4 = 5; 2 * 13 / 2 = 13.
    const m = [0, 1, 3, 2, 2, 2];
    const d = new Float32Array(2 * 6 * 2);
    for (let b = 0; b < 2; b++) for (let i = 0; i < 6; i++) d.set([m[i]!, m[i]!], (b * 6 + i) * 2);
    near(tvLoss(tf.tensor4d(d, [2, 2, 3, 2])).dataSync()[0]!, 13, 1e-5);
  });

  it("L_TV matches slice differences, value and gradient, with every channel different", () => {
    // The loss takes its differences by convolution; a plain slice formula is the reference.
    const ref = (t: tf.Tensor4D) => {
      const [b, h, w, c] = t.shape;
      const hTv = tf.sum(tf.square(tf.sub(tf.slice(t, [0, 1, 0, 0], [b, h - 1, w, c]), tf.slice(t, [0, 0, 0, 0], [b, h - 1, w, c]))));
      const wTv = tf.sum(tf.square(tf.sub(tf.slice(t, [0, 0, 1, 0], [b, h, w - 1, c]), tf.slice(t, [0, 0, 0, 0], [b, h, w - 1, c]))));
      return tf.div(tf.mul(2, tf.add(tf.div(hTv, (h - 1) * w), tf.div(wTv, h * (w - 1)))), b) as tf.Scalar;
    };
    for (const c of [3, 24]) {
      const a = tf.tensor4d(Float32Array.from({ length: 2 * 5 * 7 * c }, (_, i) => Math.sin(0.7 * i) * Math.cos(0.13 * i * i)), [2, 5, 7, c]);
      near(tvLoss(a).dataSync()[0]!, ref(a).dataSync()[0]!, 1e-5);
      const g = tf.grad((t: tf.Tensor) => tvLoss(t as tf.Tensor4D))(a).dataSync();
      const r = tf.grad((t: tf.Tensor) => ref(t as tf.Tensor4D))(a).dataSync();
      for (let i = 0; i < g.length; i++) near(g[i]!, r[i]!, 1e-6);
    }
  });

  it("total = w_tv*TV + w_spa*spa + w_col*col + w_exp*exp with the original weights", () => {
    const x = image(2, 16, 16, (b, y, x) => [0.05 + 0.01 * x, 0.1 + 0.005 * y, 0.02 * b + 0.1]);
    const y = image(2, 16, 16, (b, y, x) => [0.3 + 0.01 * x, 0.4 + 0.005 * y, 0.2 * b + 0.3]);
    const a = tf.tensor4d(Float32Array.from({ length: 2 * 16 * 16 * 24 }, (_, i) => Math.sin(i)), [2, 16, 16, 24]);
    const w = defaultLossWeights("dce");
    assert.deepEqual(w, { tv: 200, spa: 1, col: 5, exp: 10 });
    assert.equal(defaultLossWeights("lite").tv, 1600);
    const t = totalLoss(x, y, a, { weights: w, exposure: 0.6, patch: 16 });
    const v = (s: tf.Scalar) => s.dataSync()[0]!;
    near(v(t.tv), 200 * v(tvLoss(a)), 1e-2);
    near(v(t.spa), v(spatialLoss(x, y)));
    near(v(t.col), 5 * v(colorLoss(y)));
    near(v(t.exp), 10 * v(exposureLoss(y, 16, 0.6)), 1e-5);
    near(v(t.total), v(t.tv) + v(t.spa) + v(t.col) + v(t.exp), 1e-2);
    assert.throws(() => totalLoss(x, y, a, { weights: w, exposure: 0.6, patch: 32 }), /smaller than the exposure patch/);
  });

  it("gain-invariant L_spa: a pure gain costs nothing, lost structure still does, and the gain is not pushed on", () => {
    // A textured dark image lifted 6x: the original charges ((6 - 1) D)^2, the gain-invariant term ~0.
    const org = image(1, 16, 16, (_, y, x) => [0.02 + 0.01 * ((x >> 2) % 2), 0.03 + 0.01 * ((y >> 2) % 2), 0.02]);
    const lifted = tf.mul(org, 6) as tf.Tensor4D;
    assert.ok(spatialLoss(org, lifted).dataSync()[0]! > 1e-4);
    assert.ok(spatialLoss(org, lifted, true).dataSync()[0]! < 1e-3 * spatialLoss(org, lifted).dataSync()[0]!);
    // Flattened to its mean (structure lost): charged by both.
    const flat = image(1, 16, 16, () => [0.15, 0.15, 0.15]);
    assert.ok(spatialLoss(org, flat, true).dataSync()[0]! > 1e-4);
    // The gain itself carries no gradient: at a pure gain the gradient is zero, so the term never
    // asks for less brightening.
    const g = tf.grad((e: tf.Tensor) => spatialLoss(org, e as tf.Tensor4D, true))(lifted);
    assert.ok(tf.max(tf.abs(g)).dataSync()[0]! < 1e-5);
  });

  it("relative L_col: the cast is charged relative to the brightness, equal to the original at mean E", () => {
    const cast = image(1, 2, 2, () => [0.06, 0.05, 0.04]); // mean 0.05
    const lifted = tf.mul(cast, 8) as tf.Tensor4D; // mean 0.4
    assert.ok(colorLoss(lifted).dataSync()[0]! > 30 * colorLoss(cast).dataSync()[0]!);
    near(colorLoss(cast, 0.5).dataSync()[0]!, colorLoss(lifted, 0.5).dataSync()[0]!, 1e-5);
    near(colorLoss(lifted, 0.4).dataSync()[0]!, colorLoss(lifted).dataSync()[0]!, 1e-5);
    const grey = image(1, 2, 2, () => [0.3, 0.3, 0.3]);
    near(colorLoss(grey, 0.5).dataSync()[0]!, 0);
  });

  it("L_cons: mean squared difference to the image's own enhancement, which gets no gradient", () => {
    // 1x1x2 pixels: dark copy enhanced to [0.2, 0.4, 0.6] and [0.1, 0.1, 0.1], the image's own to 0.5
    // everywhere: squared differences 0.09, 0.01, 0.01, 0.16, 0.16, 0.16 -> mean 0.0983.
    const dark = tf.tensor4d([0.2, 0.4, 0.6, 0.1, 0.1, 0.1], [1, 1, 2, 3]);
    const own = tf.fill([1, 1, 2, 3], 0.5) as tf.Tensor4D;
    near(consistencyLoss(dark, own).dataSync()[0]!, 0.59 / 6);
    near(consistencyLoss(own, own).dataSync()[0]!, 0);
    const [gDark, gOwn] = tf.grads((a: tf.Tensor, b: tf.Tensor) => consistencyLoss(a as tf.Tensor4D, b as tf.Tensor4D))([dark, own]);
    // d/d dark = 2 (dark - own) / 6; the target is held fixed.
    near(gDark!.dataSync()[0]!, (2 * (0.2 - 0.5)) / 6);
    near(tf.max(tf.abs(gOwn!)).dataSync()[0]!, 0);
  });

  it("totalLoss with the gain-invariant variant uses both gain-invariant terms", () => {
    const x = image(1, 16, 16, (_, y, x) => [0.02 + 0.001 * x, 0.03 + 0.001 * y, 0.02]);
    const y = tf.mul(x, 10) as tf.Tensor4D;
    const a = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    const w = defaultLossWeights("lite");
    const t = totalLoss(x, y, a, { weights: w, exposure: 0.5, patch: 16, variant: "gain-invariant" });
    near(t.spa.dataSync()[0]!, spatialLoss(x, y, true).dataSync()[0]!);
    near(t.col.dataSync()[0]!, 5 * colorLoss(y, 0.5).dataSync()[0]!, 1e-6);
  });
});
