/**
 * The TF.js DCE-Net (scripts/tf/model.ts) as a verification reference for exported ONNX files:
 * NCHW in and out, as onnxruntime sees them.
 */
import * as tf from "@tensorflow/tfjs";
import type { Arch, Weights } from "../lib/network.ts";
import { createModel } from "../tf/model.ts";
import { setupBackend, type BackendChoice } from "../tf/backend.ts";
import type { Forward } from "./verify.ts";

export interface TfReference {
  forward: Forward;
  name: string;
  dispose: () => void;
}

/** Wraps an existing TF.js model's `apply` (the trainer passes its own). */
export function forwardFromTf(apply: (x: tf.Tensor4D) => tf.Tensor4D): Forward {
  return async (input, h, w) => {
    const out = tf.tidy(() => {
      const x = tf.transpose(tf.tensor4d(input, [1, 3, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
      return tf.transpose(apply(x), [0, 3, 1, 2]);
    });
    const data = new Float32Array(await out.data());
    out.dispose();
    return data;
  };
}

/** Builds a TF.js model from weights on the chosen backend ("auto" picks as the trainer does). */
export async function tfReference(arch: Arch, weights: Weights, backend: BackendChoice = "auto"): Promise<TfReference> {
  const name = await setupBackend(backend, { log: () => {} });
  const model = createModel(arch, weights);
  return { forward: forwardFromTf((x) => model.apply(x)), name: `the TF.js model (${name} backend)`, dispose: () => model.dispose() };
}
