/**
 * Batches for a training step, a pure function of (seed, step): which images (seeded per-epoch
 * shuffles), where to crop, and the optional augmentation. Resuming at step s therefore continues with
 * exactly the batches an uninterrupted run would have used.
 */
import { mulberry32 } from "../../src/shared/rng.ts";
import type { TrainImage } from "./data.ts";

/** Seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

const mix = (seed: number, k: number): number => (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 0;

/** Image indices of batch `step`: positions [step*B, (step+1)*B) of the concatenated epoch shuffles. */
export function batchIndices(n: number, batch: number, step: number, seed: number): number[] {
  const out: number[] = [];
  let cachedEpoch = -1;
  let perm: number[] = [];
  for (let k = step * batch; k < (step + 1) * batch; k++) {
    const epoch = Math.floor(k / n);
    if (epoch !== cachedEpoch) {
      perm = permutation(n, mix(seed, epoch));
      cachedEpoch = epoch;
    }
    out.push(perm[k % n]!);
  }
  return out;
}

export interface AugmentOptions {
  /** Random exposure change and flips, for well-exposed source photos. */
  augment: boolean;
}

/**
 * Exposure change x' = min(1, gain * x^gamma): 3 in 4 samples under-exposed (gamma 1-2.5, gain
 * 0.1-0.6, log-uniform), the rest over-exposed (gamma 0.5-1, gain 1-1.6), mimicking the multi-exposure
 * sequences Zero-DCE was trained on.
 */
export function randomExposure(rand: () => number): { gain: number; gamma: number } {
  const logU = (a: number, b: number) => Math.exp(Math.log(a) + rand() * (Math.log(b) - Math.log(a)));
  return rand() < 0.75 ? { gamma: logU(1, 2.5), gain: logU(0.1, 0.6) } : { gamma: logU(0.5, 1), gain: logU(1, 1.6) };
}

/** NHWC float batch of random crop x crop squares (augmented when asked), for one step. */
export function makeBatch(images: TrainImage[], batch: number, crop: number, step: number, seed: number, opts: AugmentOptions): Float32Array {
  const idx = batchIndices(images.length, batch, step, seed);
  const rand = mulberry32(mix(seed ^ 0x2545f491, step));
  const out = new Float32Array(batch * crop * crop * 3);
  for (const [b, i] of idx.entries()) {
    const img = images[i]!;
    if (img.width < crop || img.height < crop) throw new Error(`image ${img.name} (${img.width}x${img.height}) is smaller than the ${crop}px crop`);
    const x0 = Math.floor(rand() * (img.width - crop + 1));
    const y0 = Math.floor(rand() * (img.height - crop + 1));
    const flipH = opts.augment && rand() < 0.5;
    const flipV = opts.augment && rand() < 0.5;
    const { gain, gamma } = opts.augment ? randomExposure(rand) : { gain: 1, gamma: 1 };
    const base = b * crop * crop * 3;
    for (let y = 0; y < crop; y++) {
      const sy = y0 + (flipV ? crop - 1 - y : y);
      for (let x = 0; x < crop; x++) {
        const sx = x0 + (flipH ? crop - 1 - x : x);
        const s = (sy * img.width + sx) * 3;
        const d = base + (y * crop + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v = img.rgb[s + c]!;
          out[d + c] = opts.augment ? Math.min(1, gain * Math.pow(v, gamma)) : v;
        }
      }
    }
  }
  return out;
}

/**
 * The batch as if shot with less light, for the exposure-consistency loss: each image's values times
 * its own scale, drawn log-uniformly from [min, max] (a pure function of seed and step, like the batch),
 * then rounded to 8-bit levels as a real darker photo's would be.
 */
export function darkerCopy(batch: Float32Array, images: number, step: number, seed: number, range: { min: number; max: number }): { data: Float32Array; scales: number[] } {
  const rand = mulberry32(mix(seed ^ 0x6c8e9cf5, step));
  const per = batch.length / images;
  const out = new Float32Array(batch.length);
  const scales: number[] = [];
  for (let b = 0; b < images; b++) {
    const s = Math.exp(Math.log(range.min) + rand() * (Math.log(range.max) - Math.log(range.min)));
    scales.push(s);
    for (let i = b * per; i < (b + 1) * per; i++) out[i] = Math.round(batch[i]! * s * 255) / 255;
  }
  return { data: out, scales };
}
