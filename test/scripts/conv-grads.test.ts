// The WASM backend's convolution gradients (written as forward convolutions in scripts/tf/conv-grads.ts)
// checked against central finite differences of a float64 reference convolution, and against the CPU
// backend's own gradient kernels, on tiny odd-sized tensors.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../scripts/tf/backend.ts";
import { summedConv2d } from "../../scripts/tf/conv-grads.ts";
import { createModel } from "../../scripts/tf/model.ts";
import { mulberry32 } from "../../src/shared/rng.ts";

type Case = { name: string; n: number; h: number; w: number; c: number; o: number; k: number; pad: "same" | "valid"; depthwise: boolean };

const CASES: Case[] = [
  { name: "conv 3x3 same", n: 2, h: 5, w: 6, c: 3, o: 4, k: 3, pad: "same", depthwise: false },
  { name: "conv 3x3 valid", n: 1, h: 6, w: 5, c: 2, o: 3, k: 3, pad: "valid", depthwise: false },
  { name: "conv 1x1 (pointwise)", n: 2, h: 4, w: 3, c: 5, o: 2, k: 1, pad: "valid", depthwise: false },
  { name: "depthwise 3x3 same", n: 2, h: 5, w: 7, c: 4, o: 4, k: 3, pad: "same", depthwise: true },
];

function randArray(n: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => 2 * rand() - 1);
}

/** Float64 NHWC convolution (HWIO kernel, or [k,k,C,1] depthwise), stride 1. */
function refConv(cs: Case, x: Float64Array, w: Float64Array): Float64Array {
  const p = cs.pad === "same" ? (cs.k - 1) / 2 : 0;
  const oh = cs.h + 2 * p - cs.k + 1;
  const ow = cs.w + 2 * p - cs.k + 1;
  const out = new Float64Array(cs.n * oh * ow * cs.o);
  for (let b = 0; b < cs.n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < cs.o; o++) {
          let s = 0;
          for (let di = 0; di < cs.k; di++)
            for (let dj = 0; dj < cs.k; dj++) {
              const y = i + di - p;
              const xx = j + dj - p;
              if (y < 0 || y >= cs.h || xx < 0 || xx >= cs.w) continue;
              if (cs.depthwise) {
                s += x[((b * cs.h + y) * cs.w + xx) * cs.c + o]! * w[(di * cs.k + dj) * cs.c + o]!;
              } else {
                for (let c = 0; c < cs.c; c++) s += x[((b * cs.h + y) * cs.w + xx) * cs.c + c]! * w[((di * cs.k + dj) * cs.c + c) * cs.o + o]!;
              }
            }
          out[((b * oh + i) * ow + j) * cs.o + o] = s;
        }
  return out;
}

/** A non-linear scalar loss of the convolution output: sum(r * y + 0.5 * y^2 * r). */
function refLoss(cs: Case, x: Float64Array, w: Float64Array, r: Float64Array): number {
  const y = refConv(cs, x, w);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i]! * y[i]! + 0.5 * y[i]! * y[i]! * r[i]!;
  return s;
}

function shapes(cs: Case): { x: number[]; w: number[]; y: number[] } {
  const p = cs.pad === "same" ? (cs.k - 1) / 2 : 0;
  return {
    x: [cs.n, cs.h, cs.w, cs.c],
    w: cs.depthwise ? [cs.k, cs.k, cs.c, 1] : [cs.k, cs.k, cs.c, cs.o],
    y: [cs.n, cs.h + 2 * p - cs.k + 1, cs.w + 2 * p - cs.k + 1, cs.o],
  };
}

function tfGrads(cs: Case, x: Float64Array, w: Float64Array, r: Float64Array): { dx: Float32Array; dw: Float32Array } {
  const s = shapes(cs);
  return tf.tidy(() => {
    const xt = tf.tensor4d(Float32Array.from(x), s.x as [number, number, number, number]);
    const wt = tf.tensor4d(Float32Array.from(w), s.w as [number, number, number, number]);
    const rt = tf.tensor(Float32Array.from(r), s.y);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const y = cs.depthwise ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, cs.pad) : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, cs.pad);
      return tf.sum(tf.add(tf.mul(rt, y), tf.mul(0.5, tf.mul(tf.square(y), rt))));
    };
    const [dx, dw] = tf.grads(f)([xt, wt]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / Math.max(scale, 1e-12);
}

describe("forward-convolution gradients on the wasm backend", () => {
  before(async () => {
    await setupBackend("wasm", { log: () => {} });
  });

  it("is needed: the wasm backend has no filter-gradient kernels of its own", () => {
    assert.equal(tf.getKernel("Conv2DBackpropFilter", "wasm"), undefined);
    assert.equal(tf.getKernel("DepthwiseConv2dNativeBackpropFilter", "wasm"), undefined);
  });

  for (const cs of CASES) {
    it(`${cs.name}: input and filter gradients match finite differences and the CPU backend`, async () => {
      const rand = mulberry32(cs.h * 100 + cs.c);
      const s = shapes(cs);
      const size = (sh: number[]) => sh.reduce((a, b) => a * b, 1);
      const x = randArray(size(s.x), rand);
      const w = randArray(size(s.w), rand);
      const r = randArray(size(s.y), rand);

      await tf.setBackend("wasm");
      const wasm = tfGrads(cs, x, w, r);

      // Central differences of the float64 reference (exact up to O(h^2) and rounding).
      const h = 1e-4;
      const fd = (arr: Float64Array, isX: boolean): Float64Array => {
        const g = new Float64Array(arr.length);
        for (let i = 0; i < arr.length; i++) {
          const v = arr[i]!;
          arr[i] = v + h;
          const up = isX ? refLoss(cs, arr, w, r) : refLoss(cs, x, arr, r);
          arr[i] = v - h;
          const down = isX ? refLoss(cs, arr, w, r) : refLoss(cs, x, arr, r);
          arr[i] = v;
          g[i] = (up - down) / (2 * h);
        }
        return g;
      };
      assert.ok(maxRelErr(wasm.dx, fd(x, true)) < 1e-4, "dx vs finite differences");
      assert.ok(maxRelErr(wasm.dw, fd(w, false)) < 1e-4, "dw vs finite differences");

      await tf.setBackend("cpu");
      const cpu = tfGrads(cs, x, w, r);
      await tf.setBackend("wasm");
      assert.ok(maxRelErr(wasm.dx, cpu.dx) < 1e-5, `dx vs cpu: ${maxRelErr(wasm.dx, cpu.dx)}`);
      assert.ok(maxRelErr(wasm.dw, cpu.dw) < 1e-5, `dw vs cpu: ${maxRelErr(wasm.dw, cpu.dw)}`);
    });
  }

  for (const [k, pad] of [[3, "same"], [1, "valid"]] as const) {
    it(`summedConv2d (${k}x${k} ${pad}, three parts): the value and every gradient equal separate convolutions summed, bit for bit`, () => {
      const rand = mulberry32(40 + k);
      const t = (shape: number[]) => tf.tensor4d(Float32Array.from(randArray(shape.reduce((a, b) => a * b, 1), rand)), shape as [number, number, number, number]);
      const xs = [t([2, 5, 6, 3]), t([2, 5, 6, 4]), t([2, 5, 6, 2])];
      const ws = [t([k, k, 3, 5]), t([k, k, 4, 5]), t([k, k, 2, 5])];
      const oh = pad === "same" ? 5 : 5 - k + 1;
      const ow = pad === "same" ? 6 : 6 - k + 1;
      const r = t([2, oh, ow, 5]);
      const loss = (y: tf.Tensor) => tf.sum(tf.add(tf.mul(r, y), tf.mul(0.5, tf.mul(tf.square(y), r))));
      const parts = (...a: tf.Tensor[]) => loss(tf.addN([0, 1, 2].map((i) => tf.conv2d(a[i] as tf.Tensor4D, a[3 + i] as tf.Tensor4D, 1, pad))));
      const summed = (...a: tf.Tensor[]) => loss(summedConv2d(a.slice(0, 3) as tf.Tensor4D[], a.slice(3) as tf.Tensor4D[], pad));
      const inputs = [...xs, ...ws];
      const a = tf.grads(parts)(inputs);
      const b = tf.grads(summed)(inputs);
      assert.deepEqual(summedConv2d(xs, ws, pad).dataSync(), tf.addN(xs.map((x, i) => tf.conv2d(x, ws[i]!, 1, pad))).dataSync());
      for (let i = 0; i < inputs.length; i++) assert.deepEqual(b[i]!.dataSync(), a[i]!.dataSync(), `gradient ${i}`);
      assert.throws(() => summedConv2d(xs, ws.slice(0, 2), pad), /one kernel per input, got 3 inputs and 2 kernels/);
    });
  }

  it("the DCE-Net's gradients with the summed convolutions (wasm) match separate ones (CPU backend)", () => {
    // The model takes summedConv2d for its skip layers (e_conv5-7) on this backend; the same step on
    // the CPU backend (separate convolutions, TF.js's own gradients) must agree to float32 rounding.
    const rand = mulberry32(5);
    const x = Float32Array.from({ length: 2 * 12 * 12 * 3 }, () => 0.3 * rand());
    const grads = (backend: string) => {
      const model = createModel("dce", undefined, 4);
      const xt = tf.tensor4d(x, [2, 12, 12, 3]);
      const { grads: g } = tf.variableGrads(() => tf.mean(model.enhance(xt, model.apply(xt)).image8) as tf.Scalar, model.variables);
      const out = model.variables.map((v) => ({ name: v.name, data: g[v.name]!.dataSync() as Float32Array }));
      tf.dispose([xt, ...Object.values(g)]);
      model.dispose();
      return { backend, out };
    };
    const wasm = grads("wasm");
    return tf.setBackend("cpu").then(() => {
      const cpu = grads("cpu");
      return tf.setBackend("wasm").then(() => {
        for (let i = 0; i < wasm.out.length; i++) {
          const e = maxRelErr(wasm.out[i]!.data, cpu.out[i]!.data);
          assert.ok(e < 1e-4, `${wasm.out[i]!.name}: ${e}`);
        }
      });
    });
  });
});
