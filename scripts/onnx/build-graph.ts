/**
 * DCE-Net as an ONNX ModelProto, written from `networkSpec` (the single definition of the topology)
 * and PyTorch-named OIHW weights. NCHW float32 input "input" [1,3,H,W] with symbolic H/W, output
 * "curves" [1,3*curveMaps,H,W]; opset 13 (DequantizeLinear with a per-channel axis needs 13).
 */
import onnxProto from "onnx-proto";
import { networkSpec, parameterShapes, type Arch, type Weights } from "../lib/network.ts";
import { MODEL_INPUT, MODEL_OUTPUT, modelInfoToMetadata, type ModelInfo } from "../../src/engine/model-info.ts";
import { encodeParameter } from "./quantize.ts";

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;

export const OPSET = 13;
export const IR_VERSION = 7;
export const PRODUCER = "lowlight-edge";

const INT = onnx.AttributeProto.AttributeType.INT;
const INTS = onnx.AttributeProto.AttributeType.INTS;

function convNode(name: string, input: string, weight: string, bias: string, output: string, kernel: number, group: number): INodeProto {
  const pad = (kernel - 1) / 2;
  return {
    name,
    opType: "Conv",
    input: [input, weight, bias],
    output: [output],
    attribute: [
      { name: "kernel_shape", type: INTS, ints: [kernel, kernel] },
      { name: "pads", type: INTS, ints: [pad, pad, pad, pad] },
      { name: "strides", type: INTS, ints: [1, 1] },
      { name: "dilations", type: INTS, ints: [1, 1] },
      { name: "group", type: INT, i: group },
    ],
  };
}

function valueInfo(name: string, channels: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimValue: 1 }, { dimValue: channels }, { dimParam: "height" }, { dimParam: "width" }] },
      },
    },
  };
}

/** Checks that `weights` holds exactly the parameters of `arch` with the right shapes. */
export function checkWeights(arch: Arch, weights: Weights): void {
  const shapes = parameterShapes(networkSpec(arch));
  for (const p of shapes) {
    const t = weights.get(p.name);
    if (!t) throw new Error(`weights lack "${p.name}" needed by arch ${arch}`);
    const count = p.shape.reduce((a, b) => a * b, 1);
    if (t.shape.join(",") !== p.shape.join(",") || t.data.length !== count) {
      throw new Error(`"${p.name}" has shape [${t.shape.join(", ")}], arch ${arch} needs [${p.shape.join(", ")}]`);
    }
  }
  if (weights.size !== shapes.length) {
    const extra = [...weights.keys()].filter((k) => !shapes.some((p) => p.name === k));
    throw new Error(`weights have tensors arch ${arch} does not use: ${extra.join(", ")}`);
  }
}

export function buildModel(weights: Weights, info: ModelInfo): onnxProto.onnx.IModelProto {
  const spec = networkSpec(info.arch);
  if (info.curveMaps !== spec.curveMaps || info.iterations !== spec.iterations) {
    throw new Error(`model info says ${info.curveMaps} curve maps x ${info.iterations} iterations, arch ${info.arch} has ${spec.curveMaps} x ${spec.iterations}`);
  }
  checkWeights(info.arch, weights);
  const initializer: ITensorProto[] = [];
  const node: INodeProto[] = [];
  for (const p of parameterShapes(spec)) {
    const enc = encodeParameter(p.name, weights.get(p.name)!, p.kind, info.variant);
    initializer.push(...enc.initializers);
    node.push(...enc.nodes);
  }
  const last = spec.layers[spec.layers.length - 1]!;
  for (const l of spec.layers) {
    let x = l.inputs[0]!;
    if (l.inputs.length > 1) {
      x = `${l.name}.concat`;
      node.push({ name: x, opType: "Concat", input: l.inputs, output: [x], attribute: [{ name: "axis", type: INT, i: 1 }] });
    }
    const pre = `${l.name}.pre`;
    if (spec.separable) {
      const d = `${l.name}.depth_conv`;
      const p = `${l.name}.point_conv`;
      node.push(convNode(d, x, `${d}.weight`, `${d}.bias`, d, 3, l.inChannels));
      node.push(convNode(p, d, `${p}.weight`, `${p}.bias`, pre, 1, 1));
    } else {
      node.push(convNode(`${l.name}.conv`, x, `${l.name}.weight`, `${l.name}.bias`, pre, 3, 1));
    }
    // Layer outputs are named like the layer so `inputs` in the spec refer to them directly.
    const out = l === last ? MODEL_OUTPUT : l.name;
    node.push({ name: `${l.name}.${l.activation}`, opType: l.activation === "relu" ? "Relu" : "Tanh", input: [pre], output: [out] });
  }
  const metadata = modelInfoToMetadata(info);
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: PRODUCER,
    producerVersion: info.version,
    domain: "lowlight-edge",
    docString: `DCE-Net (${info.arch}) curve estimator, ${info.variant}: input RGB in [0,1] NCHW, output ${spec.curveChannels} curve channels in [-1,1]`,
    graph: {
      name: `dce-net-${info.arch}`,
      node,
      initializer,
      input: [valueInfo(MODEL_INPUT, 3)],
      output: [valueInfo(MODEL_OUTPUT, spec.curveChannels)],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
}

export function serializeModel(model: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

export function parseModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** metadata_props of a serialized model as a plain object. */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of parseModel(bytes).metadataProps) if (p.key) out[p.key] = p.value ?? "";
  return out;
}
