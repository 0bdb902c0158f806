import { test } from "node:test";
import assert from "node:assert/strict";
import { initWeights, networkSpec, ARCHES, type Weights } from "../../scripts/lib/network.ts";
import { readSafetensors, readSafetensorsFile, writeSafetensors, halfToFloat } from "../../scripts/weights-io/safetensors.ts";

function assertSameWeights(a: Weights, b: Weights): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.deepEqual(u.shape, t.shape, k);
    assert.deepEqual(new Uint32Array(u.data.buffer, u.data.byteOffset, u.data.length), new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length), k);
  }
}

/** A safetensors file from a header object and raw data bytes. */
function rawFile(header: unknown, data: Uint8Array, headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test("write/read round trip is bit-exact for both architectures, with metadata", () => {
  for (const arch of ARCHES) {
    const w = initWeights(networkSpec(arch), 11);
    const bytes = writeSafetensors(w, { format: "pt", note: "x" });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + headerLen) % 8, 0, "data is 8-byte aligned");
    const file = readSafetensorsFile(bytes);
    assertSameWeights(w, file.weights);
    assert.deepEqual(file.metadata, { format: "pt", note: "x" });
  }
});

test("special float values survive the round trip", () => {
  const data = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38]);
  const back = readSafetensors(writeSafetensors(new Map([["t", { shape: [7], data }]]))).get("t")!;
  assert.deepEqual(new Uint32Array(back.data.buffer), new Uint32Array(data.buffer));
});

test("F16, BF16 and F64 tensors are read as float32", () => {
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]); // 1, -2, 2^-24, 65504
  const bf16 = new Uint16Array([0x3f80, 0xc0a0]); // 1, -5
  const f64 = new Float64Array([0.1, -3]);
  const data = new Uint8Array(8 + 4 + 16);
  data.set(new Uint8Array(f16.buffer), 0);
  data.set(new Uint8Array(bf16.buffer), 8);
  data.set(new Uint8Array(f64.buffer), 12);
  const w = readSafetensors(
    rawFile(
      {
        a: { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] },
        b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
        c: { dtype: "F64", shape: [2], data_offsets: [12, 28] },
      },
      data,
    ),
  );
  assert.deepEqual([...w.get("a")!.data], [1, -2, 2 ** -24, 65504]);
  assert.deepEqual(w.get("a")!.shape, [2, 2]);
  assert.deepEqual([...w.get("b")!.data], [1, -5]);
  assert.deepEqual([...w.get("c")!.data], [Math.fround(0.1), -3]);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test("malformed files are refused with a message naming the problem", () => {
  const good = { t: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /shorter than the 8-byte header length/],
    ["header length past end", rawFile(good, eight, 10_000), /header length 10000 exceeds/],
    ["huge header length", (() => { const f = rawFile(good, eight); new DataView(f.buffer).setBigUint64(0, 2n ** 63n, true); return f; })(), /exceeds/],
    ["not JSON", (() => { const f = rawFile(good, eight); f[8] = 0x21; return f; })(), /not UTF-8 JSON/],
    ["JSON array", rawFile([1, 2], eight), /not a JSON object/],
    ["unknown dtype", rawFile({ t: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, eight), /dtype "I64"; supported: F32, F16, BF16, F64/],
    ["prototype dtype", rawFile({ t: { dtype: "constructor", shape: [2], data_offsets: [0, 8] } }, eight), /dtype "constructor"/],
    ["offsets past end", rawFile({ t: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, eight), /fall outside the 8 data bytes/],
    ["offsets reversed", rawFile({ t: { dtype: "F32", shape: [0], data_offsets: [8, 0] } }, eight), /fall outside/],
    ["shape/bytes mismatch", rawFile({ t: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, eight), /needs 12 bytes but data_offsets span 8/],
    ["negative dim", rawFile({ t: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, eight), /not a list of non-negative integers/],
    ["bad offsets", rawFile({ t: { dtype: "F32", shape: [2], data_offsets: [0] } }, eight), /not \[begin, end\]/],
    ["bad metadata", rawFile({ __metadata__: { a: 1 } }, eight), /__metadata__.a is not a string/],
  ];
  for (const [name, bytes, message] of cases) {
    assert.throws(() => readSafetensors(bytes), (e: Error) => /invalid safetensors file/.test(e.message) && message.test(e.message), name);
  }
});

test("every truncation of a valid file is refused", () => {
  const bytes = writeSafetensors(initWeights(networkSpec("lite"), 3));
  const step = Math.max(1, Math.floor(bytes.length / 400));
  for (let n = 0; n < bytes.length; n += step) {
    assert.throws(() => readSafetensors(bytes.subarray(0, n)), /invalid safetensors file/, `truncated at ${n}`);
  }
});

test("writing refuses a tensor whose shape does not match its data", () => {
  assert.throws(() => writeSafetensors(new Map([["t", { shape: [3], data: new Float32Array(2) }]])), /shape \[3\] does not match its 2 values/);
});

test("a training snapshot (weights + optimizer.* state) loads as the network's weights", async () => {
  const { parseWeights } = await import("../../scripts/weights-io/load-weights.ts");
  const w = initWeights(networkSpec("lite"), 3);
  const snap: Weights = new Map(w);
  snap.set("optimizer.iterations", { shape: [1], data: Float32Array.from([42]) });
  snap.set("optimizer.m.e_conv1.depth_conv.weight", { shape: [3, 3, 3, 1], data: new Float32Array(27) });
  const loaded = parseWeights(writeSafetensors(snap));
  assert.equal(loaded.arch, "lite");
  assertSameWeights(loaded.weights, w);
});
