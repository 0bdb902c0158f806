/**
 * How each parameter is stored in the ONNX file per variant. Inputs and outputs stay float32 in every
 * variant, so runtime code is identical; only the initializers (and a decode node per parameter) change:
 *  - fp32: the tensor itself.
 *  - fp16: a float16 initializer + Cast to float (halves the file; ORT folds the Cast at load).
 *  - int8: symmetric per-output-channel int8 weights + DequantizeLinear(axis 0); biases stay float32
 *    (they are few and their error would add directly to every activation).
 */
import onnxProto from "onnx-proto";
import type { TensorData } from "../lib/network.ts";
import type { Variant } from "../../src/engine/model-info.ts";

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type INodeProto = onnxProto.onnx.INodeProto;

export interface EncodedParameter {
  initializers: ITensorProto[];
  /** Nodes that turn the stored form back into the float32 tensor named like the parameter. */
  nodes: INodeProto[];
}

/** Float32 initializer from values (little-endian raw_data, the compact encoding). */
export function floatTensor(name: string, dims: number[], data: Float32Array): ITensorProto {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}

export function encodeParameter(name: string, t: TensorData, kind: "weight" | "bias", variant: Variant): EncodedParameter {
  if (variant === "fp32") return { initializers: [floatTensor(name, t.shape, t.data)], nodes: [] };
  if (variant === "fp16") {
    const half = floatsToHalf(t.data);
    const stored = `${name}.fp16`;
    return {
      initializers: [{ name: stored, dims: t.shape, dataType: onnx.TensorProto.DataType.FLOAT16, rawData: bytesOf(half) }],
      nodes: [
        {
          name: `cast:${name}`,
          opType: "Cast",
          input: [stored],
          output: [name],
          attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }],
        },
      ],
    };
  }
  if (kind === "bias") return { initializers: [floatTensor(name, t.shape, t.data)], nodes: [] };
  const { q, scales } = quantizeInt8PerChannel(t);
  const channels = t.shape[0]!;
  const qName = `${name}.int8`;
  const sName = `${name}.scale`;
  const zName = `${name}.zero_point`;
  return {
    initializers: [
      { name: qName, dims: t.shape, dataType: onnx.TensorProto.DataType.INT8, rawData: bytesOf(q) },
      floatTensor(sName, [channels], scales),
      { name: zName, dims: [channels], dataType: onnx.TensorProto.DataType.INT8, rawData: new Uint8Array(channels) },
    ],
    nodes: [
      {
        name: `dequantize:${name}`,
        opType: "DequantizeLinear",
        input: [qName, sName, zName],
        output: [name],
        attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
      },
    ],
  };
}

function bytesOf(a: Uint16Array | Int8Array): Uint8Array {
  // Typed arrays are little-endian on every platform Node and workerd run on; copy to be safe about offsets.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/**
 * Symmetric int8 per output channel (axis 0): scale = max|w| / 127, q = round(w / scale) in [-127, 127]
 * (-128 unused so the range is symmetric). An all-zero channel gets scale 1 (ORT requires scale != 0).
 */
export function quantizeInt8PerChannel(t: TensorData): { q: Int8Array; scales: Float32Array } {
  const channels = t.shape[0]!;
  const per = t.data.length / channels;
  const q = new Int8Array(t.data.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let max = 0;
    for (let i = c * per; i < (c + 1) * per; i++) max = Math.max(max, Math.abs(t.data[i]!));
    // Round the scale to float32 first so quantization uses exactly the scale the file stores.
    const scale = max > 0 ? Math.fround(max / 127) : 1;
    scales[c] = scale;
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(t.data[i]! / scale)));
  }
  return { q, scales };
}

export function dequantizeInt8PerChannel(q: Int8Array, scales: Float32Array): Float32Array {
  const per = q.length / scales.length;
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! * scales[Math.floor(i / per)]!;
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE binary16 bits, round to nearest even, with subnormals, overflow to infinity and NaN. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000; // implicit bit
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // Carry from the mantissa into the exponent is the correct rounding (up to infinity).
  return sign | (rem > 0x1000 || (rem === 0x1000 && half & 1) ? half + 1 : half);
}

export function floatsToHalf(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]!);
  return out;
}
