/**
 * DCE-Net, defined once (the Worker needs none of it: it runs the exported .onnx, which carries its
 * own graph). The TF.js trainer builds its layers from this spec and the ONNX exporter
 * writes its graph from it, so the two cannot drift apart. Parameter names and layouts are PyTorch's
 * (conv weights OIHW), which is also what the official checkpoints and ONNX use.
 */
import { gaussian, mulberry32 } from "../../src/shared/rng.ts";
import type { Arch } from "../../src/engine/model-info.ts";

export type { Arch };

export const ARCHES: readonly Arch[] = ["dce", "lite"];

/** Curve iterations applied to the image: x = x + r * (x^2 - x). */
export const ITERATIONS = 8;

export interface ConvLayer {
  /** PyTorch module name, e.g. "e_conv1". */
  name: string;
  /** Tensors concatenated along channels, in order: "input" or an earlier layer's name. */
  inputs: string[];
  inChannels: number;
  outChannels: number;
  activation: "relu" | "tanh";
}

export interface NetworkSpec {
  arch: Arch;
  /** dce: plain 3x3 convs. lite: depthwise 3x3 (`.depth_conv`) then pointwise 1x1 (`.point_conv`). */
  separable: boolean;
  layers: ConvLayer[];
  /** Number of distinct RGB curve maps: 8 (dce, one per iteration) or 1 (lite, reused 8 times). */
  curveMaps: number;
  /** Channels of the network output: 3 * curveMaps. */
  curveChannels: number;
  iterations: number;
}

export interface TensorData {
  shape: number[];
  data: Float32Array;
}
/** Parameters by PyTorch name ("e_conv1.weight", "e_conv1.depth_conv.bias", ...). */
export type Weights = Map<string, TensorData>;

const WIDTH = 32;

export function networkSpec(arch: Arch): NetworkSpec {
  const curveMaps = arch === "dce" ? ITERATIONS : 1;
  const curveChannels = 3 * curveMaps;
  const layers: ConvLayer[] = [
    { name: "e_conv1", inputs: ["input"], inChannels: 3, outChannels: WIDTH, activation: "relu" },
    { name: "e_conv2", inputs: ["e_conv1"], inChannels: WIDTH, outChannels: WIDTH, activation: "relu" },
    { name: "e_conv3", inputs: ["e_conv2"], inChannels: WIDTH, outChannels: WIDTH, activation: "relu" },
    { name: "e_conv4", inputs: ["e_conv3"], inChannels: WIDTH, outChannels: WIDTH, activation: "relu" },
    { name: "e_conv5", inputs: ["e_conv3", "e_conv4"], inChannels: 2 * WIDTH, outChannels: WIDTH, activation: "relu" },
    { name: "e_conv6", inputs: ["e_conv2", "e_conv5"], inChannels: 2 * WIDTH, outChannels: WIDTH, activation: "relu" },
    { name: "e_conv7", inputs: ["e_conv1", "e_conv6"], inChannels: 2 * WIDTH, outChannels: curveChannels, activation: "tanh" },
  ];
  return { arch, separable: arch === "lite", layers, curveMaps, curveChannels, iterations: ITERATIONS };
}

export interface ParameterShape {
  name: string;
  shape: number[];
  /** Fan-in of the convolution the parameter belongs to (for PyTorch's default init). */
  fanIn: number;
  kind: "weight" | "bias";
}

/** Every parameter of the network, in PyTorch state_dict order. */
export function parameterShapes(spec: NetworkSpec): ParameterShape[] {
  const out: ParameterShape[] = [];
  for (const l of spec.layers) {
    if (spec.separable) {
      const d = `${l.name}.depth_conv`;
      const p = `${l.name}.point_conv`;
      out.push({ name: `${d}.weight`, shape: [l.inChannels, 1, 3, 3], fanIn: 9, kind: "weight" });
      out.push({ name: `${d}.bias`, shape: [l.inChannels], fanIn: 9, kind: "bias" });
      out.push({ name: `${p}.weight`, shape: [l.outChannels, l.inChannels, 1, 1], fanIn: l.inChannels, kind: "weight" });
      out.push({ name: `${p}.bias`, shape: [l.outChannels], fanIn: l.inChannels, kind: "bias" });
    } else {
      const fanIn = l.inChannels * 9;
      out.push({ name: `${l.name}.weight`, shape: [l.outChannels, l.inChannels, 3, 3], fanIn, kind: "weight" });
      out.push({ name: `${l.name}.bias`, shape: [l.outChannels], fanIn, kind: "bias" });
    }
  }
  return out;
}

export function parameterCount(spec: NetworkSpec): number {
  return parameterShapes(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Fresh weights as the originals initialise them. Zero-DCE draws conv weights from N(0, 0.02) and leaves
 * biases at PyTorch's default U(-1/sqrt(fanIn), 1/sqrt(fanIn)); Zero-DCE++ keeps PyTorch's defaults
 * everywhere (kaiming_uniform(a=sqrt(5)) for weights, which is the same uniform bound).
 */
export function initWeights(spec: NetworkSpec, seed: number): Weights {
  const rand = mulberry32(seed);
  const w: Weights = new Map();
  for (const p of parameterShapes(spec)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const bound = 1 / Math.sqrt(p.fanIn);
    for (let i = 0; i < n; i++) {
      data[i] = p.kind === "weight" && !spec.separable ? 0.02 * gaussian(rand) : (2 * rand() - 1) * bound;
    }
    w.set(p.name, { shape: [...p.shape], data });
  }
  return w;
}

/** Which architecture a state_dict holds, from its parameter names and shapes; throws if neither. */
export function detectArch(weights: Weights): Arch {
  for (const arch of ARCHES) {
    const shapes = parameterShapes(networkSpec(arch));
    if (shapes.length !== weights.size) continue;
    if (shapes.every((p) => sameShape(weights.get(p.name)?.shape, p.shape))) return arch;
  }
  const names = [...weights.keys()].slice(0, 6).join(", ");
  throw new Error(
    `weights match neither Zero-DCE (dce, 14 tensors) nor Zero-DCE++ (lite, 28 tensors); got ${weights.size} tensors: ${names}...`,
  );
}

function sameShape(a: number[] | undefined, b: number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}
