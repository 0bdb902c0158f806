// The TF.js DCE-Net against a plain float64 NCHW implementation of the PyTorch module (OIHW weights,
// padding 1, concatenations in the spec's order), for both architectures, on an odd-sized input.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../scripts/tf/backend.ts";
import { createModel } from "../../scripts/tf/model.ts";
import { initWeights, networkSpec, parameterCount, type Arch, type Weights } from "../../scripts/lib/network.ts";
import { mulberry32 } from "../../src/shared/rng.ts";

type Map3 = { c: number; h: number; w: number; d: Float64Array };

/** PyTorch Conv2d (stride 1), OIHW weights, groups = 1 or = channels (depthwise). */
function conv(x: Map3, w: { shape: number[]; data: Float32Array }, b: Float32Array, pad: number, depthwise: boolean): Map3 {
  const [o, i, kh, kw] = w.shape as [number, number, number, number];
  const out = new Float64Array(o * x.h * x.w);
  for (let oc = 0; oc < o; oc++)
    for (let y = 0; y < x.h; y++)
      for (let xx = 0; xx < x.w; xx++) {
        let s = b[oc]!;
        for (let ic = 0; ic < i; ic++) {
          const src = depthwise ? oc : ic;
          for (let dy = 0; dy < kh; dy++)
            for (let dx = 0; dx < kw; dx++) {
              const yy = y + dy - pad;
              const xs = xx + dx - pad;
              if (yy < 0 || yy >= x.h || xs < 0 || xs >= x.w) continue;
              s += x.d[(src * x.h + yy) * x.w + xs]! * w.data[((oc * i + ic) * kh + dy) * kw + dx]!;
            }
        }
        out[(oc * x.h + y) * x.w + xx] = s;
      }
  return { c: o, h: x.h, w: x.w, d: out };
}

function referenceCurves(arch: Arch, weights: Weights, input: Map3): Map3 {
  const spec = networkSpec(arch);
  const get = (n: string) => weights.get(n)!;
  const outs = new Map<string, Map3>([["input", input]]);
  let last = input;
  for (const l of spec.layers) {
    const parts = l.inputs.map((n) => outs.get(n)!);
    const cat: Map3 = { c: parts.reduce((a, p) => a + p.c, 0), h: input.h, w: input.w, d: new Float64Array(0) };
    cat.d = new Float64Array(cat.c * cat.h * cat.w);
    let off = 0;
    for (const p of parts) {
      cat.d.set(p.d, off);
      off += p.d.length;
    }
    const y = spec.separable
      ? conv(conv(cat, get(`${l.name}.depth_conv.weight`), get(`${l.name}.depth_conv.bias`).data, 1, true), get(`${l.name}.point_conv.weight`), get(`${l.name}.point_conv.bias`).data, 0, false)
      : conv(cat, get(`${l.name}.weight`), get(`${l.name}.bias`).data, 1, false);
    y.d = y.d.map((v) => (l.activation === "relu" ? Math.max(0, v) : Math.tanh(v)));
    outs.set(l.name, y);
    last = y;
  }
  return last;
}

describe("TF.js DCE-Net (scripts/tf/model.ts)", () => {
  before(async () => {
    await setupBackend("wasm", { log: () => {} });
  });

  for (const arch of ["dce", "lite"] as const) {
    it(`${arch}: curves match a float64 PyTorch-layout reference; enhance applies them 4 and 8 times`, () => {
      const spec = networkSpec(arch);
      const weights = initWeights(spec, 3);
      // Scale weights up so activations are not all tiny and every layer matters.
      for (const t of weights.values()) t.data.forEach((v, i) => (t.data[i] = v * 4));
      const h = 7;
      const w = 9;
      const rand = mulberry32(5);
      const nchw = Float64Array.from({ length: 3 * h * w }, () => rand());
      const ref = referenceCurves(arch, weights, { c: 3, h, w, d: nchw });

      const model = createModel(arch, weights);
      const x = tf.tidy(() => tf.transpose(tf.tensor(Float32Array.from(nchw), [1, 3, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
      const curves = model.apply(x);
      assert.deepEqual(curves.shape, [1, h, w, spec.curveChannels]);
      const got = tf.tidy(() => tf.transpose(curves, [0, 3, 1, 2]).dataSync());
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - ref.d[i]!));
      assert.ok(maxDiff < 1e-4, `max |curve diff| ${maxDiff}`);
      assert.ok(ref.d.some((v) => Math.abs(v) > 0.05), "reference curves are not trivially zero");

      // Enhancement: x <- x + r_i (x^2 - x), r_i the i-th 3-channel map (dce) or the only one (lite).
      const { image4, image8 } = model.enhance(x, curves);
      const img = Array.from(nchw);
      const curveAt = (it: number, c: number, p: number) => ref.d[((it % spec.curveMaps) * 3 + c) * h * w + p]!;
      let after4: number[] = [];
      for (let it = 0; it < 8; it++) {
        for (let c = 0; c < 3; c++) for (let p = 0; p < h * w; p++) img[c * h * w + p] = img[c * h * w + p]! + curveAt(it, c, p) * (img[c * h * w + p]! ** 2 - img[c * h * w + p]!);
        if (it === 3) after4 = [...img];
      }
      const nchwOf = (t: tf.Tensor4D) => tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync());
      const g4 = nchwOf(image4);
      const g8 = nchwOf(image8);
      for (let i = 0; i < img.length; i++) {
        assert.ok(Math.abs(g4[i]! - after4[i]!) < 1e-4);
        assert.ok(Math.abs(g8[i]! - img[i]!) < 1e-4);
      }
      tf.dispose([x, curves, image4, image8]);
      model.dispose();
    });

    it(`${arch}: getWeights/setWeights round-trip the PyTorch layout exactly`, () => {
      const spec = networkSpec(arch);
      const a = initWeights(spec, 1);
      const model = createModel(arch, a);
      assert.equal(model.variables.reduce((n, v) => n + v.size, 0), parameterCount(spec));
      const back = model.getWeights();
      assert.deepEqual([...back.keys()], [...a.keys()]);
      for (const [k, t] of a) {
        assert.deepEqual(back.get(k)!.shape, t.shape);
        assert.deepEqual(back.get(k)!.data, t.data);
      }
      const b = initWeights(spec, 2);
      model.setWeights(b);
      for (const [k, t] of model.getWeights()) assert.deepEqual(t.data, b.get(k)!.data);
      const bad: Weights = new Map(b);
      bad.delete(model.variableNames[0]!);
      assert.throws(() => model.setWeights(bad), /weights lack/);
      model.dispose();
    });
  }

  it("parameter counts are the originals' (79,416 and 10,561)", () => {
    assert.equal(parameterCount(networkSpec("dce")), 79416);
    assert.equal(parameterCount(networkSpec("lite")), 10561);
  });
});
