/**
 * DCE-Net in TF.js, built only from `networkSpec(arch)` so the trainer and the ONNX exporter share one
 * definition. TF.js is NHWC with HWIO kernels; weights enter and leave in PyTorch's OIHW layout
 * (`Weights`), the layout of the checkpoints and of ONNX.
 */
import * as tf from "@tensorflow/tfjs";
import { initWeights, networkSpec, parameterShapes, type Arch, type NetworkSpec, type Weights } from "../lib/network.ts";
import { partsConv2d } from "./conv-grads.ts";

export interface EnhanceOutputs {
  /** The image after half the curve iterations (the seed's enhance_image_1). */
  image4: tf.Tensor4D;
  /** The image after all iterations (the seed's enhance_image). */
  image8: tf.Tensor4D;
}

export interface TfModel {
  spec: NetworkSpec;
  /** Trainable variables, in PyTorch state_dict order (same order as `variableNames`). */
  variables: tf.Variable[];
  variableNames: string[];
  /** x: NHWC RGB in [0, 1] -> curve maps NHWC, 3 * curveMaps channels in [-1, 1]. */
  apply(x: tf.Tensor4D): tf.Tensor4D;
  /** Applies the curves: x = x + r * (x^2 - x), r the i-th map (dce) or the only one (lite). */
  enhance(x: tf.Tensor4D, curves: tf.Tensor4D): EnhanceOutputs;
  getWeights(): Weights;
  setWeights(w: Weights): void;
  dispose(): void;
}

/** PyTorch layout -> TF.js layout permutation, per parameter kind. */
type Kind = "conv" | "depthwise" | "bias";

function kindOf(name: string, rank: number): Kind {
  if (rank === 1) return "bias";
  return name.includes(".depth_conv.") ? "depthwise" : "conv";
}

// OIHW -> HWIO for convs (incl. 1x1 pointwise); depthwise [C,1,kh,kw] -> [kh,kw,C,1]. Both inverses:
// HWIO -> OIHW is [3,2,0,1]; [kh,kw,C,1] -> [C,1,kh,kw] is [2,3,0,1].
const TO_TF: Record<Exclude<Kind, "bias">, number[]> = { conv: [2, 3, 1, 0], depthwise: [2, 3, 0, 1] };
const TO_TORCH: Record<Exclude<Kind, "bias">, number[]> = { conv: [3, 2, 0, 1], depthwise: [2, 3, 0, 1] };

function toTf(name: string, shape: number[], data: Float32Array): tf.Tensor {
  const t = tf.tensor(data, shape, "float32");
  const kind = kindOf(name, shape.length);
  if (kind === "bias") return t;
  const out = tf.transpose(t, TO_TF[kind]);
  t.dispose();
  return out;
}

function toTorch(name: string, v: tf.Tensor): { shape: number[]; data: Float32Array } {
  const kind = kindOf(name, v.rank);
  const t = kind === "bias" ? v.clone() : tf.transpose(v, TO_TORCH[kind]);
  const out = { shape: [...t.shape], data: new Float32Array(t.dataSync()) };
  t.dispose();
  return out;
}

/**
 * x + b for NHWC x and a per-channel bias b, with the bias gradient (dy summed over batch and space)
 * taken as a global average pool times its size. TF.js's own gradient reduces over the leading axes,
 * which on wasm means a full transpose of dy first: about twice the time for [8,128,128,32].
 */
export const addBias = tf.customGrad((...args) => {
  const [x, b] = args as [tf.Tensor4D, tf.Tensor1D];
  return {
    value: tf.add(x, b) as tf.Tensor4D,
    gradFunc: (dy: tf.Tensor4D) => {
      const [n, h, w, c] = dy.shape;
      const pooled = tf.reshape(tf.avgPool(dy, [h, w], 1, "valid"), [n, c]);
      return [dy, tf.mul(tf.sum(pooled, 0), h * w)];
    },
  };
}) as (x: tf.Tensor4D, b: tf.Tensor) => tf.Tensor4D;

/**
 * 1x1 kernels that pick channels [3i, 3i+3) of a 3 * maps channel tensor: conv2d(x, pickers[i]) is
 * exactly that slice (products with 1 and 0). On wasm this is ~20x faster than tf.split along
 * channels, a per-pixel copy loop, and so is its gradient (a concat there, a 1x1 conv here).
 */
export function channelPickers(maps: number): tf.Tensor4D[] {
  return Array.from({ length: maps }, (_, i) => {
    const k = new Float32Array(3 * maps * 3);
    for (let j = 0; j < 3; j++) k[(3 * i + j) * 3 + j] = 1;
    return tf.tensor4d(k, [1, 1, 3 * maps, 3]);
  });
}

function checkWeights(spec: NetworkSpec, w: Weights): void {
  for (const p of parameterShapes(spec)) {
    const t = w.get(p.name);
    if (!t) throw new Error(`weights lack "${p.name}" (expected shape [${p.shape}] for arch ${spec.arch})`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`weights "${p.name}" has shape [${t.shape}], arch ${spec.arch} needs [${p.shape}]`);
    }
  }
}

export function createModel(arch: Arch, weights?: Weights, seed = 0): TfModel {
  const spec = networkSpec(arch);
  const shapes = parameterShapes(spec);
  const w = weights ?? initWeights(spec, seed);
  checkWeights(spec, w);
  const vars = new Map<string, tf.Variable>();
  for (const p of shapes) {
    const t = w.get(p.name)!;
    const init = toTf(p.name, t.shape, t.data);
    vars.set(p.name, tf.variable(init, true));
    init.dispose();
  }
  const v = (name: string): tf.Variable => {
    const x = vars.get(name);
    if (!x) throw new Error(`model has no parameter "${name}"`);
    return x;
  };

  /**
   * One layer on the concatenation of `parts`, computed without materialising the concatenation: a conv
   * over concatenated channels is the sum of convs over each part with the matching slice of the kernel
   * (depthwise: each part with its own channels). Same result, but the backward pass then needs no
   * split of large activations, which is slow on wasm; slicing the small kernels is cheap.
   */
  function conv(name: string, parts: tf.Tensor4D[]): tf.Tensor4D {
    const slices = (w: tf.Tensor, axis: number): tf.Tensor4D[] => {
      if (parts.length === 1) return [w as tf.Tensor4D];
      let off = 0;
      return parts.map((p) => {
        const c = p.shape[3];
        const begin = [0, 0, 0, 0];
        const size = [-1, -1, -1, -1];
        begin[axis] = off;
        size[axis] = c;
        off += c;
        return tf.slice(w, begin, size) as tf.Tensor4D;
      });
    };
    if (spec.separable) {
      const d = `${name}.depth_conv`;
      const p = `${name}.point_conv`;
      const dws = slices(v(`${d}.weight`), 2);
      const dbs = parts.length === 1 ? [v(`${d}.bias`)] : (tf.split(v(`${d}.bias`), parts.map((x) => x.shape[3])) as tf.Tensor[]);
      const pws = slices(v(`${p}.weight`), 2);
      const depthwise = parts.map((x, i) => addBias(tf.depthwiseConv2d(x, dws[i]!, 1, "same"), dbs[i]!));
      return addBias(partsConv2d(depthwise, pws, "valid"), v(`${p}.bias`));
    }
    // Plain conv + add rather than tf.fused.conv2d: the fused op's gradient bypasses the registry.
    const ws = slices(v(`${name}.weight`), 2);
    return addBias(partsConv2d(parts, ws, "same"), v(`${name}.bias`));
  }

  function apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const outs = new Map<string, tf.Tensor4D>([["input", x]]);
      let last: tf.Tensor4D = x;
      for (const layer of spec.layers) {
        const ins = layer.inputs.map((n) => {
          const t = outs.get(n);
          if (!t) throw new Error(`layer ${layer.name} reads "${n}", which is not computed before it`);
          return t;
        });
        const y = conv(layer.name, ins);
        last = layer.activation === "relu" ? tf.relu(y) : tf.tanh(y);
        outs.set(layer.name, last);
      }
      return last;
    });
  }

  const pickers = spec.curveMaps === 1 ? [] : channelPickers(spec.curveMaps);

  function enhance(x: tf.Tensor4D, curves: tf.Tensor4D): EnhanceOutputs {
    return tf.tidy(() => {
      const maps = spec.curveMaps === 1 ? [curves] : pickers.map((k) => tf.conv2d(curves, k, 1, "valid"));
      let img = x;
      let image4: tf.Tensor4D | undefined;
      const half = Math.floor(spec.iterations / 2);
      for (let i = 0; i < spec.iterations; i++) {
        const r = maps[i % maps.length]!;
        img = tf.add(img, tf.mul(r, tf.sub(tf.square(img), img))) as tf.Tensor4D;
        if (i + 1 === half) image4 = img;
      }
      return { image4: image4 ?? img, image8: img };
    });
  }

  return {
    spec,
    variables: shapes.map((p) => v(p.name)),
    variableNames: shapes.map((p) => p.name),
    apply,
    enhance,
    getWeights() {
      const out: Weights = new Map();
      for (const p of shapes) out.set(p.name, toTorch(p.name, v(p.name)));
      return out;
    },
    setWeights(nw: Weights) {
      checkWeights(spec, nw);
      for (const p of shapes) {
        const t = nw.get(p.name)!;
        const x = toTf(p.name, t.shape, t.data);
        v(p.name).assign(x);
        x.dispose();
      }
    },
    dispose() {
      for (const x of vars.values()) x.dispose();
      for (const k of pickers) k.dispose();
    },
  };
}
