/**
 * The four zero-reference losses of Zero-DCE (Myloss.py and lowlight_train.py of the official code),
 * on NHWC tensors. Each function returns the unweighted term exactly as the original computes it
 * (including its reductions); `totalLoss` weights and sums them like the training script.
 */
import * as tf from "@tensorflow/tfjs";

export interface LossWeights {
  /** Illumination smoothness of the curve maps (200 for Zero-DCE, 1600 for Zero-DCE++). */
  tv: number;
  /** Spatial consistency (1). */
  spa: number;
  /** Colour constancy (5). */
  col: number;
  /** Exposure control (10). */
  exp: number;
}

export interface LossConfig {
  weights: LossWeights;
  /** Well-exposedness level E (0.6). */
  exposure: number;
  /** Exposure patch size (16). */
  patch: number;
  /**
   * "zero-dce" (default): the terms exactly as the original. "gain-invariant": spatial consistency
   * and colour constancy stop charging for brightness itself (see `spatialLoss` and `colorLoss`).
   */
  variant?: LossVariant;
  /**
   * Weight of the exposure-consistency term (0 or absent: off). Each batch image is also shown to the
   * net darker, as if shot with less light, and its enhancement there is charged for differing from
   * the enhancement of the image itself: the same scene should come out the same however dark it
   * was shot (`consistencyLoss`).
   */
  consistency?: number;
}

export const LOSS_VARIANTS = ["zero-dce", "gain-invariant"] as const;
export type LossVariant = (typeof LOSS_VARIANTS)[number];

export const DEFAULT_EXPOSURE = 0.6;
export const DEFAULT_PATCH = 16;

/** Identity with no gradient: TF.js has no stop_gradient op, so a custom gradient of zero stands in. */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (x: tf.Tensor) => tf.Tensor;

export function defaultLossWeights(arch: "dce" | "lite"): LossWeights {
  return { tv: arch === "lite" ? 1600 : 200, spa: 1, col: 5, exp: 10 };
}

/**
 * L_spa: 4x4-pooled channel means; squared differences of the 4-neighbour gradients (zero padded), mean.
 * `gainInvariant`: the input's gradients are first scaled by the image's own brightening (mean out
 * over mean in, held constant), so the term asks for structure kept, not for brightness withheld. The
 * original charges a gain g on a gradient D as ((g - 1) D)^2, which holds the darkest, most textured
 * photos back: they need the largest gains.
 */
export function spatialLoss(org: tf.Tensor4D, enh: tf.Tensor4D, gainInvariant = false): tf.Scalar {
  return tf.tidy(() => {
    const pool = (x: tf.Tensor4D) => tf.avgPool(tf.mean(x, 3, true) as tf.Tensor4D, 4, 4, "valid");
    const po = pool(org);
    const pe = pool(enh);
    const ref = gainInvariant ? tf.mul(po, stopGradient(tf.div(tf.mean(pe, [1, 2, 3], true), tf.add(tf.mean(po, [1, 2, 3], true), 1e-6)))) : po;
    // conv(org) - conv(enh) with the same linear kernel = conv(org - enh): one set of differences.
    const d = tf.sub(ref, pe) as tf.Tensor4D;
    const [b, h, w] = d.shape;
    const p = tf.pad(d, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const at = (dy: number, dx: number) => tf.slice(p, [0, 1 + dy, 1 + dx, 0], [b, h, w, 1]);
    const e = tf.addN([
      tf.square(tf.sub(d, at(0, -1))), // left
      tf.square(tf.sub(d, at(0, 1))), // right
      tf.square(tf.sub(d, at(-1, 0))), // up
      tf.square(tf.sub(d, at(1, 0))), // down
    ]);
    return tf.mean(e) as tf.Scalar;
  });
}

/** L_exp: channel mean pooled over patch x patch regions; mean of (pool - E)^2. */
export function exposureLoss(enh: tf.Tensor4D, patch: number, level: number): tf.Scalar {
  return tf.tidy(() => {
    const m = tf.avgPool(tf.mean(enh, 3, true) as tf.Tensor4D, patch, patch, "valid");
    return tf.mean(tf.square(tf.sub(m, level))) as tf.Scalar;
  });
}

/**
 * L_col (gray world), as the code has it: D = (difference of channel means)^2, k = sqrt(sum of D^2),
 * averaged over the batch. A tiny 1e-20 under the root keeps a perfectly grey image (all D = 0) from
 * giving a NaN gradient (0 * inf) without changing any value by more than 1e-10.
 * `relativeTo` E: the channel means are first divided by their own mean and multiplied by E, so the
 * cast is charged relative to the brightness (the same value as the original for an image of mean E).
 * The original grows with the square of the brightness, which charges a cast image for being lifted.
 */
export function colorLoss(enh: tf.Tensor4D, relativeTo?: number): tf.Scalar {
  return tf.tidy(() => {
    const raw = tf.mean(enh, [1, 2]) as tf.Tensor2D; // [B, 3]
    const m = relativeTo === undefined ? raw : (tf.mul(tf.div(raw, tf.add(tf.mean(raw, 1, true), 1e-6)), relativeTo) as tf.Tensor2D);
    const [mr, mg, mb] = tf.split(m, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const drg = tf.square(tf.sub(mr, mg));
    const drb = tf.square(tf.sub(mr, mb));
    const dgb = tf.square(tf.sub(mb, mg));
    const k = tf.sqrt(tf.add(tf.addN([tf.square(drg), tf.square(drb), tf.square(dgb)]), 1e-20));
    return tf.mean(k) as tf.Scalar;
  });
}

/**
 * Kernels of a convolution whose output channels are a's neighbour differences, down (a[y+1] - a[y]) or
 * across (a[x+1] - a[x]), per channel: -1 and 1 on the channel's own diagonal, 0 elsewhere. Exact (the
 * zero products add nothing), and on wasm about a fifth of the time of two slices and a subtraction,
 * forward and backward (the slices' gradient is a per-pixel copy loop there, the convolution's another
 * convolution): ~37 ms against ~190 for a [8,128,128,24] map.
 */
const diffKernels = new Map<number, { down: tf.Tensor4D; across: tf.Tensor4D }>();
function differenceKernels(c: number): { down: tf.Tensor4D; across: tf.Tensor4D } {
  let k = diffKernels.get(c);
  if (!k) {
    const d = new Float32Array(2 * c * c);
    for (let i = 0; i < c; i++) {
      d[i * c + i] = -1; // tap 0, in i -> out i
      d[c * c + i * c + i] = 1; // tap 1
    }
    k = tf.tidy(() => ({ down: tf.keep(tf.tensor4d(d, [2, 1, c, c])), across: tf.keep(tf.tensor4d(d, [1, 2, c, c])) }));
    diffKernels.set(c, k);
  }
  return k;
}

/** L_TV of the curve maps: 2 * (h_tv / count_h + w_tv / count_w) / batch, counts without channels. */
export function tvLoss(a: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [b, h, w, c] = a.shape;
    const k = differenceKernels(c);
    const hTv = tf.sum(tf.square(tf.conv2d(a, k.down, 1, "valid")));
    const wTv = tf.sum(tf.square(tf.conv2d(a, k.across, 1, "valid")));
    const countH = (h - 1) * w;
    const countW = h * (w - 1);
    return tf.div(tf.mul(2, tf.add(tf.div(hTv, countH), tf.div(wTv, countW))), b) as tf.Scalar;
  });
}

/**
 * L_cons: mean squared difference between the enhancement of a darker copy and that of the image
 * itself. The image's own enhancement is a fixed target (no gradient): the four losses above keep
 * deciding how it looks, and this term only teaches the darker copy to reach it.
 */
export function consistencyLoss(enhancedDark: tf.Tensor4D, enhanced: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(enhancedDark, stopGradient(enhanced)))) as tf.Scalar);
}

/** Darker copies' exposure: a copy gets the image's values times a scale drawn log-uniformly from this range. */
export const CONSISTENCY_SCALES = { min: 0.3, max: 0.8 } as const;

export interface LossTerms<T> {
  tv: T;
  spa: T;
  col: T;
  exp: T;
  total: T;
}

/** Weighted terms and their sum: w_tv*TV(curves) + w_spa*spa(x, y) + w_col*col(y) + w_exp*exp(y). */
export function totalLoss(x: tf.Tensor4D, enhanced: tf.Tensor4D, curves: tf.Tensor4D, cfg: LossConfig): LossTerms<tf.Scalar> {
  const [, h, w] = x.shape;
  if (h < cfg.patch || w < cfg.patch) {
    throw new Error(`training images of ${w}x${h} are smaller than the exposure patch (${cfg.patch}): use a larger --crop/--size or a smaller --patch`);
  }
  const tv = tf.mul(cfg.weights.tv, tvLoss(curves)) as tf.Scalar;
  const inv = cfg.variant === "gain-invariant";
  const spa = tf.mul(cfg.weights.spa, spatialLoss(x, enhanced, inv)) as tf.Scalar;
  const col = tf.mul(cfg.weights.col, colorLoss(enhanced, inv ? cfg.exposure : undefined)) as tf.Scalar;
  const exp = tf.mul(cfg.weights.exp, exposureLoss(enhanced, cfg.patch, cfg.exposure)) as tf.Scalar;
  return { tv, spa, col, exp, total: tf.addN([tv, spa, col, exp]) as tf.Scalar };
}
