/**
 * One optimisation step as the original does it: loss on the batch (optionally accumulated over
 * micro-batches to bound memory), gradient-norm clipping (torch.nn.utils.clip_grad_norm_), then Adam with
 * PyTorch's L2 weight decay (added to the clipped gradient inside the step).
 */
import * as tf from "@tensorflow/tfjs";
import type { TfModel } from "./model.ts";
import { consistencyLoss, totalLoss, tvLoss, type LossConfig, type LossTerms } from "./losses.ts";

export interface StepOptions {
  loss: LossConfig;
  /** Max global gradient norm (0.1); 0 or less disables clipping. */
  clip: number;
  weightDecay: number;
  /** Images per forward/backward pass; the batch is split into chunks of this size. */
  microBatch: number;
}

export interface StepResult extends LossTerms<number> {
  /** The weighted exposure-consistency term (and the darker copies' TV), included in total; 0 when off. */
  cons: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Mean brightness of the enhanced batch. */
  brightness: number;
}

/** Adam with PyTorch's defaults (betas 0.9/0.999, eps 1e-8). */
export function createOptimizer(lr: number): tf.AdamOptimizer {
  return tf.train.adam(lr, 0.9, 0.999, 1e-8);
}

/**
 * `dark`: the batch as if shot with less light (`darkerCopy`), needed when opts.loss.consistency > 0:
 * its enhancement is charged for differing from the batch's own (`consistencyLoss`), and its curves
 * for TV like the batch's.
 */
export function trainStep(model: TfModel, optimizer: tf.Optimizer, batch: tf.Tensor4D, opts: StepOptions, dark?: tf.Tensor4D): StepResult {
  const n = batch.shape[0];
  const wCons = opts.loss.consistency ?? 0;
  if (wCons > 0 && (!dark || dark.shape.join() !== batch.shape.join())) {
    throw new Error(`the consistency loss needs a darker copy of the batch, shaped [${batch.shape}]`);
  }
  const micro = Math.max(1, Math.min(opts.microBatch, n));
  const chunks = Math.ceil(n / micro);
  const sums: LossTerms<number> = { tv: 0, spa: 0, col: 0, exp: 0, total: 0 };
  let brightness = 0;
  let cons = 0;
  let grads: tf.Tensor[] | null = null;
  for (let c = 0; c < chunks; c++) {
    const start = c * micro;
    const size = Math.min(micro, n - start);
    const frac = size / n;
    const out = tf.tidy(() => {
      const x = chunks === 1 ? batch : (tf.slice(batch, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D);
      let vals: tf.Tensor | undefined;
      const { value, grads: g } = tf.variableGrads(() => {
        const curves = model.apply(x);
        const { image8 } = model.enhance(x, curves);
        const t = totalLoss(x, image8, curves, opts.loss);
        let c: tf.Scalar | undefined;
        if (wCons > 0) {
          const xd = chunks === 1 ? dark! : (tf.slice(dark!, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D);
          const curvesD = model.apply(xd);
          const enhD = model.enhance(xd, curvesD).image8;
          c = tf.add(tf.mul(wCons, consistencyLoss(enhD, image8)), tf.mul(opts.loss.weights.tv, tvLoss(curvesD))) as tf.Scalar;
        }
        const total = c ? (tf.add(t.total, c) as tf.Scalar) : t.total;
        // The gradient's forward pass runs in its own tidy scope: keep the logged values out of it.
        vals = tf.keep(tf.stack([t.tv, t.spa, t.col, t.exp, total, tf.mean(image8), c ?? tf.scalar(0)]));
        // Every chunk's loss is a batch mean; weighting by its share makes the sum the full-batch loss.
        return tf.mul(total, frac) as tf.Scalar;
      }, model.variables);
      value.dispose();
      return { grads: model.variables.map((v) => g[v.name]!), vals: vals! };
    });
    const v = out.vals.dataSync();
    out.vals.dispose();
    sums.tv += v[0]! * frac;
    sums.spa += v[1]! * frac;
    sums.col += v[2]! * frac;
    sums.exp += v[3]! * frac;
    sums.total += v[4]! * frac;
    brightness += v[5]! * frac;
    cons += v[6]! * frac;
    if (grads === null) grads = out.grads;
    else {
      const prev: tf.Tensor[] = grads;
      grads = prev.map((g, i) => tf.add(g, out.grads[i]!));
      tf.dispose(prev);
      tf.dispose(out.grads);
    }
  }
  const g = grads!;
  const normT = tf.tidy(() => tf.sqrt(tf.addN(g.map((x) => tf.sum(tf.square(x))))));
  const gradNorm = normT.dataSync()[0]!;
  normT.dispose();
  // clip_grad_norm_: scale by max_norm / (norm + 1e-6) only when that is below 1.
  const coef = opts.clip > 0 ? opts.clip / (gradNorm + 1e-6) : 1;
  tf.tidy(() => {
    const named = model.variables.map((v, i) => {
      let grad = g[i]!;
      if (coef < 1) grad = tf.mul(grad, coef);
      if (opts.weightDecay > 0) grad = tf.add(grad, tf.mul(v, opts.weightDecay));
      return { name: v.name, tensor: grad };
    });
    optimizer.applyGradients(named);
  });
  tf.dispose(g);
  return { ...sums, cons, gradNorm, brightness };
}
