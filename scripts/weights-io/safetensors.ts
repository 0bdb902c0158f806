/**
 * safetensors reader/writer (https://huggingface.co/docs/safetensors): 8-byte little-endian header
 * length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`,
 * then the raw little-endian tensor bytes. Every field of an untrusted file is validated before use.
 */
import type { Weights } from "../lib/network.ts";

/** Largest header we accept; real headers are a few KB, this stops a hostile length from allocating GBs. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export type FloatDtype = "F32" | "F16" | "BF16" | "F64";
export const BYTES_PER_ELEMENT: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export interface SafetensorsFile {
  weights: Weights;
  metadata: Record<string, string>;
}

export function readSafetensors(bytes: Uint8Array): Weights {
  return readSafetensorsFile(bytes).weights;
}

export function readSafetensorsFile(bytes: Uint8Array): SafetensorsFile {
  const fail = (what: string): never => {
    throw new Error(`invalid safetensors file: ${what}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    fail(`header length ${headerLen} exceeds the ${bytes.length - 8} bytes after it (or the ${MAX_HEADER_BYTES}-byte limit)`);
  }
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object");
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const weights: Weights = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail("__metadata__ is not an object");
      metadata = {};
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof entry !== "object" || entry === null) fail(`tensor "${name}" entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== "string" || !Object.hasOwn(BYTES_PER_ELEMENT, dtype)) {
      fail(`tensor "${name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(BYTES_PER_ELEMENT).join(", ")}`);
    }
    const isDim = (d: unknown): d is number => typeof d === "number" && Number.isSafeInteger(d) && d >= 0;
    if (!Array.isArray(shape) || !shape.every(isDim)) fail(`tensor "${name}" shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
      fail(`tensor "${name}" data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen) fail(`tensor "${name}" data_offsets [${begin}, ${end}] fall outside the ${dataLen} data bytes`);
    const dims = shape as number[];
    const count = dims.reduce((a, b) => a * b, 1);
    const size = BYTES_PER_ELEMENT[dtype as FloatDtype];
    if (count * size !== end - begin) {
      fail(`tensor "${name}" shape [${dims.join(", ")}] x ${dtype} needs ${count * size} bytes but data_offsets span ${end - begin}`);
    }
    weights.set(name, { shape: [...dims], data: decodeFloats(bytes, dataStart + begin, count, dtype as FloatDtype) });
  }
  return { weights, metadata };
}

/** `count` little-endian values of `dtype` at `start` as float32 (the caller checks the bounds). */
export function decodeFloats(bytes: Uint8Array, start: number, count: number, dtype: FloatDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * BYTES_PER_ELEMENT[dtype]);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case "F32":
        out[i] = view.getFloat32(4 * i, true);
        break;
      case "F64":
        out[i] = view.getFloat64(8 * i, true);
        break;
      case "F16":
        out[i] = halfToFloat(view.getUint16(2 * i, true));
        break;
      case "BF16":
        out[i] = bf16ToFloat(view.getUint16(2 * i, true));
        break;
    }
  }
  return out;
}

/** IEEE 754 binary16 bits to a number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
function bf16ToFloat(b: number): number {
  bf16Scratch.setUint32(0, b << 16);
  return bf16Scratch.getFloat32(0);
}

/** F32 little-endian safetensors, tensors in the Map's order, 8-byte aligned data as the format recommends. */
export function writeSafetensors(weights: Weights, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of weights) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor "${name}" shape [${t.shape.join(", ")}] does not match its ${t.data.length} values`);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data starts 8-byte aligned.
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const t of weights.values()) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i]!, true);
    pos += 4 * t.data.length;
  }
  return out;
}
