/**
 * Checks an exported ONNX file against a reference forward pass on seeded sample inputs: the largest
 * curve difference and the PSNR of the enhanced image (curves applied 8 times) against the reference's.
 * The image PSNR is what a user sees; the curve difference is what a bug in the graph shows first.
 */
import * as ort from "onnxruntime-web";
import { mulberry32 } from "../../src/shared/rng.ts";
import { ITERATIONS } from "../lib/network.ts";
import { MODEL_INPUT, MODEL_OUTPUT } from "../../src/engine/model-info.ts";

/** Curves for an NCHW [1,3,h,w] input, NCHW [1,C,h,w] out. */
export type Forward = (nchwInput: Float32Array, h: number, w: number) => Promise<Float32Array>;

export interface Sample {
  h: number;
  w: number;
  data: Float32Array;
}

export interface VerifyMetrics {
  maxCurveDiff: number;
  /** dB; Infinity when identical. Worst (lowest) over the samples. */
  imagePsnr: number;
}

let configured = false;
function configureOrt(): void {
  if (configured) return;
  // Node cannot start ORT's wasm worker threads (blob: URLs); single-threaded is also what the Worker runs.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  configured = true;
}

/** An ORT session over model bytes as a `Forward`; `release` frees it. */
export async function onnxForward(model: Uint8Array): Promise<{ forward: Forward; release: () => Promise<void> }> {
  configureOrt();
  const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  const forward: Forward = async (input, h, w) => {
    const feeds = { [MODEL_INPUT]: new ort.Tensor("float32", input, [1, 3, h, w]) };
    const out = await session.run(feeds);
    const t = out[MODEL_OUTPUT];
    if (!t) throw new Error(`model has no "${MODEL_OUTPUT}" output`);
    return new Float32Array(t.data as Float32Array);
  };
  return { forward, release: () => session.release() };
}

/**
 * Seeded dark-photo-like inputs: smooth gradients and blobs at low brightness plus a little noise, in
 * [0,1]. Odd sizes are included on purpose: they catch padding and layout bugs that square even sizes hide.
 */
export function sampleInputs(seed = 7, sizes: [number, number][] = [[48, 64], [33, 47]]): Sample[] {
  const rand = mulberry32(seed);
  return sizes.map(([h, w]) => {
    const data = new Float32Array(3 * h * w);
    const gain = 0.1 + 0.4 * rand();
    const phase = [rand(), rand(), rand()].map((p) => p * 6.28);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const smooth = 0.5 + 0.5 * Math.sin(x / 7 + phase[c]!) * Math.cos(y / 5 + phase[(c + 1) % 3]!);
          const v = gain * smooth + 0.05 * (rand() - 0.5);
          data[(c * h + y) * w + x] = Math.min(1, Math.max(0, v));
        }
      }
    }
    return { h, w, data };
  });
}

/** x <- x + r (x^2 - x), `iterations` times; curve map i (or the only one) per iteration. NCHW planes. */
export function applyCurves(image: Float32Array, curves: Float32Array, h: number, w: number, iterations = ITERATIONS): Float32Array {
  const plane = h * w;
  const maps = curves.length / (3 * plane);
  if (!Number.isInteger(maps) || maps < 1) throw new Error(`curves hold ${curves.length} values, not a multiple of 3x${h}x${w}`);
  const x = new Float32Array(image);
  for (let it = 0; it < iterations; it++) {
    const base = (maps === 1 ? 0 : it) * 3 * plane;
    for (let i = 0; i < 3 * plane; i++) {
      const v = x[i]!;
      x[i] = v + curves[base + i]! * (v * v - v);
    }
  }
  return x;
}

/** PSNR in dB for signals in [0,1]. */
export function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10(a.length / se);
}

export async function compareForwards(candidate: Forward, reference: Forward, samples: Sample[]): Promise<VerifyMetrics> {
  let maxCurveDiff = 0;
  let imagePsnr = Infinity;
  for (const s of samples) {
    const want = await reference(s.data, s.h, s.w);
    const got = await candidate(s.data, s.h, s.w);
    if (want.length !== got.length) throw new Error(`output has ${got.length} values, reference ${want.length} (for ${s.h}x${s.w})`);
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(want[i]! - got[i]!);
      // NaN must fail verification, not be ignored by Math.max.
      maxCurveDiff = Number.isNaN(d) ? NaN : Math.max(maxCurveDiff, d);
    }
    imagePsnr = Math.min(imagePsnr, psnr(applyCurves(s.data, want, s.h, s.w), applyCurves(s.data, got, s.h, s.w)));
  }
  return { maxCurveDiff, imagePsnr };
}
