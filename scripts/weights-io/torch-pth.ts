/**
 * PyTorch checkpoints (`torch.save(state_dict)`) read without Python and without running pickled code:
 *  - zip format (torch >= 1.6): `<dir>/data.pkl` + one `<dir>/data/<key>` file per storage;
 *  - legacy format: pickles of magic number, protocol, sys_info, the state_dict, the storage keys, then
 *    per storage an 8-byte little-endian element count and its raw bytes.
 * The state_dict pickle goes through the restricted unpickler with a torch allow-list; storages and
 * tensor views (offset, sizes, strides) are validated against the bytes actually present.
 */
import { unzipSync } from "fflate";
import type { Weights } from "../lib/network.ts";
import { describe, PickleError, PyDict, PyGlobal, PyList, PyObject, PyTuple, unpickle, type AllowedGlobal, type PyValue } from "./pickle.ts";
import { BYTES_PER_ELEMENT, decodeFloats, type FloatDtype } from "./safetensors.ts";

/** Storage classes a state_dict may reference; only the floating ones can become DCE-Net weights. */
const STORAGE_DTYPES: Record<string, FloatDtype | "int"> = {
  "torch.FloatStorage": "F32",
  "torch.HalfStorage": "F16",
  "torch.BFloat16Storage": "BF16",
  "torch.DoubleStorage": "F64",
  "torch.LongStorage": "int",
  "torch.IntStorage": "int",
  "torch.ShortStorage": "int",
  "torch.CharStorage": "int",
  "torch.ByteStorage": "int",
  "torch.BoolStorage": "int",
};
const INT_SIZES: Record<string, number> = {
  "torch.LongStorage": 8,
  "torch.IntStorage": 4,
  "torch.ShortStorage": 2,
  "torch.CharStorage": 1,
  "torch.ByteStorage": 1,
  "torch.BoolStorage": 1,
};

/** Legacy magic number, the first pickle of a legacy file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
/** Zip entries larger than this are refused before decompression (DCE-Net storages are KBs). */
const MAX_ENTRY_BYTES = 512 * 1024 * 1024;

interface StorageRef {
  key: string;
  storageType: string;
  /** Elements declared in the persistent id. */
  numel: number;
  /** For legacy views: element offset and length inside the root storage. */
  view?: { offset: number; numel: number };
}

interface TensorRef {
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}

const isInt = (v: PyValue): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function intList(v: PyValue, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every(isInt)) throw new Error(`${what} must be a tuple of non-negative integers, got ${describe(v)}`);
  return v.items as number[];
}

/** The callables a state_dict pickle invokes, as data-only stand-ins. */
function torchGlobals(): Record<string, AllowedGlobal> {
  const globals: Record<string, AllowedGlobal> = {
    "collections.OrderedDict": (args) => {
      if (args.length !== 0) throw new Error("OrderedDict is only supported without arguments");
      return new PyDict();
    },
    "torch._utils._rebuild_tensor_v2": (args) => {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride] = args;
      if (args.length < 4 || args.length > 7) throw new Error(`expected 6 or 7 arguments, got ${args.length}`);
      if (!(storage instanceof PyObject) || storage.type !== "storage") throw new Error(`first argument is a ${describe(storage ?? null)}, not a storage`);
      if (!isInt(offset ?? null)) throw new Error("storage offset must be a non-negative integer");
      const t: TensorRef = { storage: storage.value as StorageRef, offset: offset as number, size: intList(size ?? null, "size"), stride: intList(stride ?? null, "stride") };
      if (t.size.length !== t.stride.length) throw new Error(`size has ${t.size.length} dims, stride ${t.stride.length}`);
      return new PyObject("tensor", t);
    },
    "torch._utils._rebuild_parameter": (args) => {
      // (data, requires_grad, backward_hooks): a Parameter is its tensor for our purposes
      const data = args[0];
      if (!(data instanceof PyObject) || data.type !== "tensor") throw new Error(`expected a tensor, got ${describe(data ?? null)}`);
      return data;
    },
  };
  for (const s of Object.keys(STORAGE_DTYPES)) globals[s] = null; // referenced in persistent ids, never called
  return globals;
}

function storageLoader(refs: Map<string, StorageRef>): (pid: PyValue) => PyValue {
  return (pid) => {
    // ('storage', storage_type, key, location, numel[, view_metadata])
    if (!(pid instanceof PyTuple) || pid.items[0] !== "storage" || pid.items.length < 5 || pid.items.length > 6) {
      throw new Error(`persistent id ${describe(pid)} is not a ('storage', type, key, location, numel) tuple`);
    }
    const [, type, key, , numel, view] = pid.items;
    if (!(type instanceof PyGlobal) || !Object.hasOwn(STORAGE_DTYPES, type.qualifiedName)) throw new Error(`storage type ${describe(type ?? null)} is not supported`);
    if (typeof key !== "string" || key.length === 0 || key.length > 64) throw new Error("storage key must be a short string");
    if (!isInt(numel ?? null)) throw new Error(`storage ${key} has an invalid element count`);
    const ref: StorageRef = { key, storageType: type.qualifiedName, numel: numel as number };
    if (view !== undefined && view !== null) {
      // Legacy views of a larger root storage: (view_key, offset, view_size)
      if (!(view instanceof PyTuple) || view.items.length !== 3 || !isInt(view.items[1] ?? null) || !isInt(view.items[2] ?? null)) {
        throw new Error(`storage ${key} has malformed view metadata`);
      }
      ref.view = { offset: view.items[1] as number, numel: view.items[2] as number };
    }
    const known = refs.get(key);
    if (known && (known.storageType !== ref.storageType || known.numel !== ref.numel)) throw new Error(`storage ${key} is declared twice differently`);
    refs.set(key, known ?? ref);
    return new PyObject("storage", ref);
  };
}

/** Name -> tensor reference from the unpickled object, looking inside common checkpoint wrappers. */
function tensorEntries(root: PyValue): Map<string, TensorRef> {
  if (!(root instanceof PyDict)) throw new Error(`the checkpoint holds a ${describe(root)}, not a state_dict (a dict of tensors)`);
  const tensors = new Map<string, TensorRef>();
  for (const [k, v] of root.map) if (typeof k === "string" && v instanceof PyObject && v.type === "tensor") tensors.set(k, v.value as TensorRef);
  if (tensors.size === 0) {
    for (const wrapper of ["state_dict", "model_state_dict", "model", "net"]) {
      const inner = root.map.get(wrapper);
      if (inner instanceof PyDict) return tensorEntries(inner);
    }
    throw new Error("the checkpoint's dict holds no tensors (nor a state_dict/model entry that does)");
  }
  const other = [...root.map.keys()].filter((k) => typeof k !== "string" || !tensors.has(k));
  if (other.length > 0) throw new Error(`state_dict entries that are not tensors: ${other.slice(0, 5).map(String).join(", ")}`);
  return tensors;
}

/** Materialises tensors from storage bytes; `storageBytes(ref)` returns the raw bytes of the root storage. */
function buildWeights(tensors: Map<string, TensorRef>, storageBytes: (ref: StorageRef) => Uint8Array): Weights {
  const weights: Weights = new Map();
  for (const [name, t] of tensors) {
    const dtype = STORAGE_DTYPES[t.storage.storageType]!;
    if (dtype === "int") throw new Error(`tensor "${name}" is stored as ${t.storage.storageType}; DCE-Net weights are floating point`);
    const elem = BYTES_PER_ELEMENT[dtype];
    const bytes = storageBytes(t.storage);
    const rootNumel = bytes.length / elem;
    if (!Number.isInteger(rootNumel)) throw new Error(`storage ${t.storage.key} has ${bytes.length} bytes, not a multiple of ${elem}`);
    const viewStart = t.storage.view?.offset ?? 0;
    const viewNumel = t.storage.view?.numel ?? rootNumel;
    if (viewStart + viewNumel > rootNumel) throw new Error(`storage view ${t.storage.key} [${viewStart}, +${viewNumel}) exceeds its ${rootNumel} elements`);
    const all = decodeFloats(bytes, viewStart * elem, viewNumel, dtype);
    const count = t.size.reduce((a, b) => a * b, 1);
    if (count > all.length) throw new Error(`tensor "${name}" has ${count} elements, more than its storage's ${all.length}`);
    const data = new Float32Array(count);
    if (count > 0) {
      // Highest element index the view touches must lie inside the storage (hostile strides/offsets).
      const last = t.offset + t.size.reduce((s, n, i) => s + (n - 1) * t.stride[i]!, 0);
      if (last >= all.length) {
        throw new Error(`tensor "${name}" (offset ${t.offset}, size [${t.size.join(", ")}], stride [${t.stride.join(", ")}]) reads past its storage of ${all.length} elements`);
      }
      // Strided gather; for the usual contiguous case this is a plain copy in order.
      const idx = new Array<number>(t.size.length).fill(0);
      for (let i = 0; i < count; i++) {
        let src = t.offset;
        for (let d = 0; d < idx.length; d++) src += idx[d]! * t.stride[d]!;
        data[i] = all[src]!;
        for (let d = idx.length - 1; d >= 0; d--) {
          if (++idx[d]! < t.size[d]!) break;
          idx[d] = 0;
        }
      }
    }
    weights.set(name, { shape: [...t.size], data });
  }
  return weights;
}

function wrap<T>(format: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(`cannot read ${format} .pth: ${msg}`, { cause: e });
  }
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** Either PyTorch format, told apart by the zip signature. */
export function readPth(bytes: Uint8Array): Weights {
  return isZip(bytes) ? readZipPth(bytes) : readLegacyPth(bytes);
}

export function readZipPth(bytes: Uint8Array): Weights {
  return wrap("zip", () => {
    let files: Record<string, Uint8Array>;
    const sizes = new Map<string, number>();
    let total = 0;
    try {
      files = unzipSync(bytes, {
        filter: (f) => {
          if (!/(^|\/)(data\.pkl|byteorder|data\/[^/]+)$/.test(f.name)) return false;
          total += f.originalSize;
          if (f.originalSize > MAX_ENTRY_BYTES || f.size > bytes.length || total > 2 * MAX_ENTRY_BYTES) {
            throw new Error(`entry ${f.name} declares ${f.originalSize} bytes (limits: ${MAX_ENTRY_BYTES} per entry, twice that in all)`);
          }
          sizes.set(f.name, f.originalSize);
          return true;
        },
      });
    } catch (e) {
      throw new Error(`invalid zip archive (${(e as Error).message})`);
    }
    // fflate slices stored entries without checking the end; a short entry means a truncated file.
    for (const [name, data] of Object.entries(files)) {
      if (data.length !== sizes.get(name)) throw new Error(`zip entry ${name} is truncated (${data.length} of ${sizes.get(name)} bytes)`);
    }
    const pkls = Object.keys(files).filter((n) => /(^|\/)data\.pkl$/.test(n));
    if (pkls.length !== 1) throw new Error(`expected one data.pkl in the archive, found ${pkls.length}`);
    const prefix = pkls[0]!.slice(0, -"data.pkl".length);
    const order = files[`${prefix}byteorder`];
    if (order && new TextDecoder().decode(order).trim() !== "little") throw new Error("big-endian checkpoints are not supported");
    const refs = new Map<string, StorageRef>();
    const { value, end } = unpickle(files[pkls[0]!]!, { globals: torchGlobals(), persistentLoad: storageLoader(refs) });
    if (end !== files[pkls[0]!]!.length) throw new Error(`data.pkl has ${files[pkls[0]!]!.length - end} bytes after STOP`);
    return buildWeights(tensorEntries(value), (ref) => {
      const data = files[`${prefix}data/${ref.key}`];
      if (!data) throw new Error(`storage ${ref.key} is missing from the archive`);
      const dtype = STORAGE_DTYPES[ref.storageType]!;
      const elem = dtype === "int" ? INT_SIZES[ref.storageType]! : BYTES_PER_ELEMENT[dtype];
      if (data.length !== ref.numel * elem) throw new Error(`storage ${ref.key} has ${data.length} bytes, its declared ${ref.numel} elements need ${ref.numel * elem}`);
      return data;
    });
  });
}

export function readLegacyPth(bytes: Uint8Array): Weights {
  return wrap("legacy", () => {
    const options = { globals: torchGlobals() };
    let r;
    try {
      r = unpickle(bytes, options);
    } catch (e) {
      throw new Error(`not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream): ${(e as Error).message}`);
    }
    if (r.value !== LEGACY_MAGIC) throw new Error("not a PyTorch checkpoint (no zip signature and no legacy magic number)");
    r = unpickle(bytes, { ...options, offset: r.end });
    if (r.value !== LEGACY_PROTOCOL) throw new Error(`legacy protocol version ${String(r.value)} is not ${LEGACY_PROTOCOL}`);
    r = unpickle(bytes, { ...options, offset: r.end });
    if (!(r.value instanceof PyDict)) throw new Error("sys_info is not a dict");
    if (r.value.map.get("little_endian") !== true) throw new Error("big-endian checkpoints are not supported");
    const refs = new Map<string, StorageRef>();
    r = unpickle(bytes, { ...options, offset: r.end, persistentLoad: storageLoader(refs) });
    const tensors = tensorEntries(r.value);
    r = unpickle(bytes, { ...options, offset: r.end });
    if (!(r.value instanceof PyList) || !r.value.items.every((k) => typeof k === "string")) throw new Error("storage key list is not a list of strings");
    const keys = r.value.items as string[];
    // Storages follow in key order: int64 LE element count, then the elements.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = new Map<string, Uint8Array>();
    let pos = r.end;
    for (const key of keys) {
      const ref = refs.get(key);
      if (!ref) throw new Error(`storage ${key} is listed but no tensor uses it`);
      if (data.has(key)) throw new Error(`storage ${key} is listed twice`);
      if (pos + 8 > bytes.length) throw new Error(`truncated before storage ${key}'s element count`);
      const numel = view.getBigInt64(pos, true);
      const dtype = STORAGE_DTYPES[ref.storageType]!;
      const elem = dtype === "int" ? INT_SIZES[ref.storageType]! : BYTES_PER_ELEMENT[dtype];
      if (numel !== BigInt(ref.numel)) throw new Error(`storage ${key} holds ${numel} elements, its tensor declared ${ref.numel}`);
      const n = ref.numel * elem;
      if (pos + 8 + n > bytes.length) throw new Error(`truncated inside storage ${key} (needs ${n} bytes, ${bytes.length - pos - 8} left)`);
      data.set(key, bytes.subarray(pos + 8, pos + 8 + n));
      pos += 8 + n;
    }
    return buildWeights(tensors, (ref) => {
      const d = data.get(ref.key);
      if (!d) throw new Error(`storage ${ref.key} is used by a tensor but not stored in the file`);
      return d;
    });
  });
}

export { PickleError };
