/**
 * Import of PyTorch checkpoints written by the test itself, the way torch.save writes them: the zip
 * format (>= 1.6) and the legacy format, plus hostile and broken files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import fc from "fast-check";
import { ARCHES, initWeights, networkSpec, type Weights } from "../../scripts/lib/network.ts";
import { readPth, readLegacyPth, readZipPth } from "../../scripts/weights-io/torch-pth.ts";
import { PickleError, unpickle } from "../../scripts/weights-io/pickle.ts";
import { parseWeights } from "../../scripts/weights-io/load-weights.ts";
import { writeSafetensors } from "../../scripts/weights-io/safetensors.ts";

/** Minimal pickle writer (protocol 2 opcodes, as torch.save emits them). */
class Pickler {
  private out: number[] = [];
  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  proto(): this {
    return this.op(0x80, 2);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x58, ...u32(b.length), ...b);
  }
  int(n: number): this {
    if (n < 256) return this.op(0x4b, n);
    if (n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    return this.op(0x4a, ...u32(n));
  }
  mark = () => this.op(0x28);
  tuple = () => this.op(0x74);
  emptyTuple = () => this.op(0x29);
  emptyDict = () => this.op(0x7d);
  emptyList = () => this.op(0x5d);
  setitems = () => this.op(0x75);
  appends = () => this.op(0x65);
  reduce = () => this.op(0x52);
  persid = () => this.op(0x51);
  build = () => this.op(0x62);
  none = () => this.op(0x4e);
  bool = (b: boolean) => this.op(b ? 0x88 : 0x89);
  put = (i: number) => this.op(0x71, i);
  get = (i: number) => this.op(0x68, i);
  stop = () => this.op(0x2e);
  ints(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.out);
  }
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

interface Entry {
  name: string;
  key: string;
  numel: number;
  offset: number;
  size: number[];
  stride: number[];
  parameter?: boolean;
  storageType?: string;
}

const contiguous = (size: number[]): number[] => size.map((_, i) => size.slice(i + 1).reduce((a, b) => a * b, 1));

/** The state_dict pickle: OrderedDict of _rebuild_tensor_v2(...) with persistent storage ids. */
function stateDictPickle(entries: Entry[], legacy: boolean): Uint8Array {
  const p = new Pickler().proto().global("collections", "OrderedDict").put(0).emptyTuple().reduce().put(1).mark();
  for (const e of entries) {
    p.str(e.name);
    if (e.parameter) p.global("torch._utils", "_rebuild_parameter").mark();
    p.global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark().str("storage").global("torch", e.storageType ?? "FloatStorage").str(e.key).str("cpu").int(e.numel);
    if (legacy) p.none();
    p.tuple().persid();
    p.int(e.offset).ints(e.size).ints(e.stride).bool(false).get(0).emptyTuple().reduce().tuple().reduce();
    if (e.parameter) p.bool(true).get(0).emptyTuple().reduce().tuple().reduce();
  }
  p.setitems();
  // state_dict._metadata, set through BUILD as torch does
  p.emptyDict().mark().str("_metadata").get(0).emptyTuple().reduce().setitems().build();
  return p.stop().bytes();
}

function f32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** One storage per tensor (what torch.save does for a state_dict), every other one a Parameter. */
function entriesFor(w: Weights): { entries: Entry[]; storages: Map<string, Float32Array> } {
  const entries: Entry[] = [];
  const storages = new Map<string, Float32Array>();
  let i = 0;
  for (const [name, t] of w) {
    const key = String(1000 + i);
    entries.push({ name, key, numel: t.data.length, offset: 0, size: t.shape, stride: contiguous(t.shape), parameter: i % 2 === 1 });
    storages.set(key, t.data);
    i++;
  }
  return { entries, storages };
}

function zipPth(pkl: Uint8Array, storages: Map<string, Uint8Array>, dir = "archive", level: 0 | 6 = 0): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = { [`${dir}/data.pkl`]: [pkl, { level }] };
  files[`${dir}/byteorder`] = [new TextEncoder().encode("little"), { level }];
  for (const [k, v] of storages) files[`${dir}/data/${k}`] = [v, { level }];
  files[`${dir}/version`] = [new TextEncoder().encode("3\n"), { level }];
  return zipSync(files);
}

function legacyPth(pkl: Uint8Array, storages: Map<string, Uint8Array>, elemSize = 4, countOverride?: number): Uint8Array {
  const magic = new Pickler().proto().op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop().bytes();
  const protocol = new Pickler().proto().int(1001).stop().bytes();
  const sysInfo = new Pickler().proto().emptyDict().mark().str("protocol_version").int(1001).str("little_endian").bool(true)
    .str("type_sizes").emptyDict().mark().str("short").int(2).str("int").int(4).str("long").int(4).setitems().setitems().stop().bytes();
  const keys = new Pickler().proto().emptyList().mark();
  for (const k of storages.keys()) keys.str(k);
  const parts: Uint8Array[] = [magic, protocol, sysInfo, pkl, keys.appends().stop().bytes()];
  for (const v of storages.values()) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(countOverride ?? v.length / elemSize), true);
    parts.push(count, v);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function writeBoth(w: Weights): { zip: Uint8Array; legacy: Uint8Array } {
  const { entries, storages } = entriesFor(w);
  const raw = new Map([...storages].map(([k, v]) => [k, f32Bytes(v)]));
  return { zip: zipPth(stateDictPickle(entries, false), raw), legacy: legacyPth(stateDictPickle(entries, true), raw) };
}

function assertSameWeights(got: Weights, want: Weights): void {
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [k, t] of want) {
    const u = got.get(k)!;
    assert.deepEqual(u.shape, t.shape, k);
    assert.deepEqual(new Uint32Array(f32Bytes(u.data).buffer), new Uint32Array(f32Bytes(t.data).buffer), k);
  }
}

test("zip and legacy .pth of both architectures import bit-exactly, arch detected", () => {
  for (const arch of ARCHES) {
    const w = initWeights(networkSpec(arch), 5);
    const { zip, legacy } = writeBoth(w);
    assertSameWeights(readZipPth(zip), w);
    assertSameWeights(readLegacyPth(legacy), w);
    for (const [bytes, format] of [[zip, "pth-zip"], [legacy, "pth-legacy"], [writeSafetensors(w), "safetensors"]] as const) {
      const loaded = parseWeights(bytes);
      assert.equal(loaded.format, format);
      assert.equal(loaded.arch, arch);
      assertSameWeights(loaded.weights, w);
    }
  }
});

test("a zip whose folder is not 'archive' (newer torch uses the file stem), or deflated, is read", () => {
  const w = initWeights(networkSpec("lite"), 2);
  const { entries, storages } = entriesFor(w);
  const raw = new Map([...storages].map(([k, v]) => [k, f32Bytes(v)]));
  assertSameWeights(readPth(zipPth(stateDictPickle(entries, false), raw, "Epoch99")), w);
  assertSameWeights(readPth(zipPth(stateDictPickle(entries, false), raw, "archive", 6)), w);
});

test("DataParallel's module. prefix is stripped", () => {
  const w = initWeights(networkSpec("dce"), 9);
  const prefixed: Weights = new Map([...w].map(([k, v]) => [`module.${k}`, v]));
  const { zip } = writeBoth(prefixed);
  const loaded = parseWeights(zip);
  assert.equal(loaded.arch, "dce");
  assertSameWeights(loaded.weights, w);
});

test("shared storages with offsets, non-contiguous strides and F16/F64 storages are honoured", () => {
  // Storage "s": [0..11]; a = 2x3 at offset 2 (contiguous); b = transpose of the first 6 (3x2, strides 1,3).
  const s = new Float32Array(12).map((_, i) => i);
  const h = new Uint16Array([0x3c00, 0x4000]); // f16 1, 2
  const d = new Float64Array([0.5, -1.25]);
  const entries: Entry[] = [
    { name: "a", key: "s", numel: 12, offset: 2, size: [2, 3], stride: [3, 1] },
    { name: "b", key: "s", numel: 12, offset: 0, size: [3, 2], stride: [1, 3] },
    { name: "h", key: "h", numel: 2, offset: 0, size: [2], stride: [1], storageType: "HalfStorage" },
    { name: "d", key: "d", numel: 2, offset: 0, size: [2], stride: [1], storageType: "DoubleStorage" },
  ];
  const storages = new Map([["s", f32Bytes(s)], ["h", new Uint8Array(h.buffer)], ["d", new Uint8Array(d.buffer)]]);
  const w = readZipPth(zipPth(stateDictPickle(entries, false), storages));
  assert.deepEqual([...w.get("a")!.data], [2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...w.get("b")!.data], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...w.get("h")!.data], [1, 2]);
  assert.deepEqual([...w.get("d")!.data], [0.5, -1.25]);
});

const MARKER = join(mkdtempSync(join(tmpdir(), "pickle-")), "pwned");

/** Pickles that would run code in Python's pickle module. */
const MALICIOUS: [string, Uint8Array, RegExp][] = [
  ["os.system + REDUCE", new Pickler().proto().global("os", "system").mark().str(`touch ${MARKER}`).tuple().reduce().stop().bytes(), /global "os\.system" is not allowed/],
  ["builtins.eval", new Pickler().proto().global("builtins", "eval").mark().str("1+1").tuple().reduce().stop().bytes(), /global "builtins\.eval" is not allowed/],
  ["STACK_GLOBAL builtins.exec", new Pickler().proto().op(0x8c, 8, ...new TextEncoder().encode("builtins")).op(0x8c, 4, ...new TextEncoder().encode("exec")).op(0x93).stop().bytes(), /global "builtins\.exec" is not allowed/],
  ["INST", new Pickler().proto().mark().str("x").op(0x69, ...new TextEncoder().encode("os\nsystem\n")).stop().bytes(), /opcode INST is not allowed/],
  ["OBJ", new Pickler().proto().mark().global("collections", "OrderedDict").op(0x6f).stop().bytes(), /opcode OBJ is not allowed/],
  ["NEWOBJ", new Pickler().proto().global("collections", "OrderedDict").emptyTuple().op(0x81).stop().bytes(), /opcode NEWOBJ is not allowed/],
  ["EXT1", new Pickler().proto().op(0x82, 1).stop().bytes(), /opcode EXT1 is not allowed/],
  ["unknown opcode", new Pickler().proto().op(0xff).stop().bytes(), /unknown opcode 0xff/],
  ["calling a storage class", new Pickler().proto().global("torch", "FloatStorage").emptyTuple().reduce().stop().bytes(), /"torch\.FloatStorage" may be referenced but not called/],
  ["REDUCE on a string", new Pickler().proto().str("os.system").emptyTuple().reduce().stop().bytes(), /REDUCE on a string/],
];

test("malicious pickles are refused by name, as legacy files and inside zips, and nothing runs", () => {
  for (const [name, pkl, message] of MALICIOUS) {
    assert.throws(() => readPth(pkl), (e: Error) => message.test(e.message), `${name} (legacy)`);
    assert.throws(() => readPth(zipPth(pkl, new Map())), (e: Error) => message.test(e.message) && /cannot read zip/.test(e.message), `${name} (zip)`);
  }
  // A hostile global inside an otherwise valid legacy state_dict pickle.
  const w = initWeights(networkSpec("lite"), 1);
  const { entries, storages } = entriesFor(w);
  const pkl = stateDictPickle(entries, true);
  const evil = new Pickler().global("os", "system").bytes();
  const at = Buffer.from(pkl).indexOf("ctorch._utils\n_rebuild_tensor_v2", 0, "latin1"); // the first tensor's GLOBAL
  assert.ok(at > 0);
  const spliced = new Uint8Array([...pkl.subarray(0, at), ...evil, ...pkl.subarray(at)]);
  assert.throws(() => readLegacyPth(legacyPth(spliced, new Map([...storages].map(([k, v]) => [k, f32Bytes(v)])))), /os\.system" is not allowed/);
  assert.equal(existsSync(MARKER), false, "no pickled command ran");
  rmSync(join(MARKER, ".."), { recursive: true, force: true });
});

test("every truncation of zip and legacy files gives an error", () => {
  const { zip, legacy } = writeBoth(initWeights(networkSpec("lite"), 4));
  for (const bytes of [zip, legacy]) {
    const step = Math.max(1, Math.floor(bytes.length / 300));
    for (let n = 0; n < bytes.length; n += step) {
      assert.throws(() => readPth(bytes.subarray(0, n)), (e: Error) => e instanceof Error && e.message.length > 0, `truncated at ${n}`);
    }
  }
});

test("inconsistent storages, offsets and strides are refused", () => {
  const base = (over: Partial<Entry>): Entry => ({ name: "t", key: "0", numel: 6, offset: 0, size: [2, 3], stride: [3, 1], ...over });
  const storage = new Map([["0", f32Bytes(new Float32Array(6))]]);
  const zipOf = (e: Entry, st = storage) => zipPth(stateDictPickle([e], false), st);
  assert.throws(() => readZipPth(zipOf(base({ offset: 1 }))), /reads past its storage of 6 elements/);
  assert.throws(() => readZipPth(zipOf(base({ stride: [4, 1] }))), /reads past its storage/);
  assert.throws(() => readZipPth(zipOf(base({ numel: 7 }))), /storage 0 has 24 bytes, its declared 7 elements need 28/);
  assert.throws(() => readZipPth(zipOf(base({ key: "9" }))), /storage 9 is missing/);
  assert.throws(() => readZipPth(zipOf(base({ stride: [0, 0], size: [100, 100] }))), /more than its storage's 6/);
  assert.throws(() => readZipPth(zipOf(base({ storageType: "LongStorage", numel: 3 }))), /LongStorage; DCE-Net weights are floating point/);
  assert.throws(() => readZipPth(zipOf(base({ storageType: "Evil" }))), /global "torch\.Evil" is not allowed/);
  const legacyOf = (count?: number) => legacyPth(stateDictPickle([base({})], true), storage, 4, count);
  assert.deepEqual(readLegacyPth(legacyOf()).get("t")!.shape, [2, 3]);
  assert.throws(() => readLegacyPth(legacyOf(5)), /storage 0 holds 5 elements, its tensor declared 6/);
  assert.throws(() => readLegacyPth(legacyOf(-1)), /holds -1 elements/);
  // Wrong shapes for DCE-Net: readable, but no architecture matches.
  const w = initWeights(networkSpec("dce"), 1);
  w.set("e_conv1.weight", { shape: [32, 3, 9], data: w.get("e_conv1.weight")!.data });
  assert.throws(() => parseWeights(writeBoth(w).zip), /match neither Zero-DCE/);
  assert.throws(() => parseWeights(new Uint8Array([1, 2, 3])), /unrecognised weights file/);
});

test("the unpickler bounds its stack and memo and rejects malformed streams", () => {
  const globals = {};
  const deep = new Pickler().proto();
  for (let i = 0; i < 2000; i++) deep.emptyList();
  assert.throws(() => unpickle(deep.stop().bytes(), { globals, maxStack: 1000 }), /stack exceeds 1000 items/);
  const memo = new Pickler().proto().emptyList();
  for (let i = 0; i < 300; i++) memo.op(0x72, ...u32(i));
  assert.throws(() => unpickle(memo.stop().bytes(), { globals, maxMemo: 100 }), /memo exceeds 100 entries/);
  assert.throws(() => unpickle(new Pickler().proto().get(7).stop().bytes(), { globals }), /memo key 7 was never stored/);
  assert.throws(() => unpickle(new Pickler().proto().mark().stop().bytes(), { globals }), /STOP with 0 values and 1 marks/);
  assert.throws(() => unpickle(new Pickler().proto().op(0x58, 0xff, 0xff, 0xff, 0x7f).bytes(), { globals }), /truncated/);
  assert.throws(() => unpickle(new Pickler().proto().emptyList().mark().setitems().stop().bytes(), { globals }), /SETITEM\(S\) on a list/);
  assert.throws(() => unpickle(new Pickler().proto().op(0x51).bytes(), { globals }), /stack underflow/);
  assert.throws(() => unpickle(new Pickler().proto().str("x").op(0x51).stop().bytes(), { globals }), /persistent ids are not expected/);
  const big = unpickle(new Pickler().proto().op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x80).stop().bytes(), { globals });
  assert.equal(big.value, -(2n ** 71n));
});

test("random bytes after a pickle header never crash the unpickler with anything but a PickleError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
      const bytes = new Uint8Array([0x80, 0x02, ...tail]);
      try {
        unpickle(bytes, { globals: { "collections.OrderedDict": () => null }, persistentLoad: () => null });
      } catch (e) {
        if (!(e instanceof PickleError)) throw e;
      }
    }),
    { numRuns: 2000, seed: 42 },
  );
});
