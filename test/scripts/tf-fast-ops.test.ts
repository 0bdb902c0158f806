// The training graph's two wasm shortcuts (scripts/tf/model.ts) against the plain TF.js ops they
// replace, values and gradients, on both the wasm and the CPU backend: the bias add whose gradient is
// a global average pool, and the 1x1 "picker" convolutions that stand for tf.split along channels.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../scripts/tf/backend.ts";
import { addBias, channelPickers } from "../../scripts/tf/model.ts";
import { mulberry32 } from "../../src/shared/rng.ts";

function rand(shape: number[], seed: number): tf.Tensor {
  const r = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => 2 * r() - 1), shape);
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

for (const backend of ["wasm", "cpu"] as const) {
  describe(`fast training ops on ${backend}`, () => {
    it("addBias: the value and both gradients are tf.add's", async () => {
      await setupBackend(backend, { log: () => {} });
      tf.tidy(() => {
        // Odd sizes, batch > 1: the bias gradient sums over batch, height and width.
        const x = rand([3, 5, 7, 4], 1) as tf.Tensor4D;
        const b = rand([4], 2) as tf.Tensor1D;
        const w = rand([3, 5, 7, 4], 3);
        const loss = (f: (x: tf.Tensor4D, b: tf.Tensor1D) => tf.Tensor) => (xs: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(tf.square(f(xs as tf.Tensor4D, bs as tf.Tensor1D)), w));
        const [gx, gb] = tf.grads(loss(addBias))([x, b]);
        const [rx, rb] = tf.grads(loss((xs, bs) => tf.add(xs, bs)))([x, b]);
        assert.equal(maxDiff(addBias(x, b), tf.add(x, b)), 0);
        assert.ok(maxDiff(gx!, rx!) === 0, "input gradient");
        // The bias gradient sums 105 terms in another order: equal to float32 rounding.
        assert.ok(maxDiff(gb!, rb!) < 1e-5, `bias gradient differs by ${maxDiff(gb!, rb!)}`);
        assert.ok(tf.max(tf.abs(rb!)).dataSync()[0]! > 1, "the reference gradient is not trivially small");
      });
    });

    it("channel pickers: each is exactly its slice of channels, and the gradient is tf.split's", async () => {
      await setupBackend(backend, { log: () => {} });
      tf.tidy(() => {
        const maps = 4;
        const x = rand([2, 3, 5, 3 * maps], 4) as tf.Tensor4D;
        const pickers = channelPickers(maps);
        const parts = tf.split(x, maps, 3);
        for (let i = 0; i < maps; i++) assert.equal(maxDiff(tf.conv2d(x, pickers[i]!, 1, "valid"), parts[i]!), 0, `map ${i}`);
        // A loss that uses every map differently, as the curve iterations do.
        const weights = Array.from({ length: maps }, (_, i) => rand([2, 3, 5, 3], 10 + i));
        const total = (ms: tf.Tensor[]) => tf.addN(ms.map((m, i) => tf.sum(tf.mul(tf.tanh(m), weights[i]!))));
        const g = tf.grad((t: tf.Tensor) => total(pickers.map((k) => tf.conv2d(t as tf.Tensor4D, k, 1, "valid"))))(x);
        const r = tf.grad((t: tf.Tensor) => total(tf.split(t, maps, 3)))(x);
        assert.ok(maxDiff(g, r) < 1e-6, `gradient differs by ${maxDiff(g, r)}`);
      });
    });
  });
}
