/**
 * ONNX export round trip: every variant of both architectures, run by onnxruntime-web, against the
 * TF.js model (the trainer's) and against an independent direct-convolution forward written here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { ARCHES, initWeights, networkSpec, type Arch, type Weights } from "../../scripts/lib/network.ts";
import { modelInfoFromMetadata, type ModelInfo, type Variant } from "../../src/engine/model-info.ts";
import { exportModel, exportVariant, VARIANTS, type ExportInfo } from "../../scripts/onnx/export-model.ts";
import { parseModel, readMetadata } from "../../scripts/onnx/build-graph.ts";
import { compareForwards, onnxForward, sampleInputs, type Forward } from "../../scripts/onnx/verify.ts";
import { tfReference } from "../../scripts/onnx/tf-reference.ts";
import { dequantizeInt8PerChannel, floatToHalf, quantizeInt8PerChannel } from "../../scripts/onnx/quantize.ts";
import { halfToFloat } from "../../scripts/weights-io/safetensors.ts";
import { mulberry32 } from "../../src/shared/rng.ts";
import type { ModelCard } from "../../scripts/lib/model-card.ts";

const { onnx } = onnxProto;

/**
 * Curve differences allowed per variant. fp32: only summation order differs (~1e-7 seen). fp16: each
 * weight carries a relative error <= 2^-11, which grows through 7 layers (~1e-4 seen). int8: each weight
 * is off by <= half a step of max|w|/127 per output channel (~3e-3 seen on the official weights).
 */
const TOLERANCE: Record<Variant, number> = { fp32: 1e-5, fp16: 2e-2, int8: 5e-2 };
const MIN_PSNR: Record<Variant, number> = { fp32: 100, fp16: 60, int8: 40 };

/** Weights that make the untrained nets produce non-trivial curves (N(0, 0.02) alone gives ~tanh(bias)). */
function testWeights(arch: Arch, seed: number): Weights {
  const w = initWeights(networkSpec(arch), seed);
  if (arch === "dce") for (const t of w.values()) if (t.shape.length === 4) t.data.forEach((v, i) => (t.data[i] = v * 3));
  return w;
}

const info = (over: Partial<ExportInfo> = {}): ExportInfo => ({
  name: "test-model",
  version: "1.2.3",
  estimationSize: 96,
  provenance: "unit test | with a pipe",
  extra: { exposure: "0.6" },
  ...over,
});

/** Direct NCHW convolution forward of DCE-Net, from the spec, sharing no code with the exporter. */
function plainForward(arch: Arch, w: Weights): Forward {
  const spec = networkSpec(arch);
  const conv = (x: Float32Array, cin: number, h: number, wd: number, name: string, k: number, groups: number): Float32Array => {
    const W = w.get(`${name}.weight`)!;
    const B = w.get(`${name}.bias`)!;
    const cout = W.shape[0]!;
    const perGroupIn = cin / groups;
    const perGroupOut = cout / groups;
    const r = (k - 1) / 2;
    const y = new Float32Array(cout * h * wd);
    for (let o = 0; o < cout; o++) {
      const g = Math.floor(o / perGroupOut);
      for (let yy = 0; yy < h; yy++) {
        for (let xx = 0; xx < wd; xx++) {
          let s = B.data[o]!;
          for (let ci = 0; ci < perGroupIn; ci++) {
            const c = g * perGroupIn + ci;
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const sy = yy + ky - r;
                const sx = xx + kx - r;
                if (sy < 0 || sy >= h || sx < 0 || sx >= wd) continue;
                s += W.data[((o * perGroupIn + ci) * k + ky) * k + kx]! * x[(c * h + sy) * wd + sx]!;
              }
            }
          }
          y[(o * h + yy) * wd + xx] = s;
        }
      }
    }
    return y;
  };
  return async (input, h, wd) => {
    const outs = new Map<string, Float32Array>([["input", input]]);
    let last = input;
    for (const l of spec.layers) {
      const parts = l.inputs.map((n) => outs.get(n)!);
      const x = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let pos = 0;
      for (const p of parts) {
        x.set(p, pos);
        pos += p.length;
      }
      const pre = spec.separable
        ? conv(conv(x, l.inChannels, h, wd, `${l.name}.depth_conv`, 3, l.inChannels), l.inChannels, h, wd, `${l.name}.point_conv`, 1, 1)
        : conv(x, l.inChannels, h, wd, l.name, 3, 1);
      last = pre.map((v) => (l.activation === "relu" ? Math.max(0, v) : Math.tanh(v)));
      outs.set(l.name, last);
    }
    return last;
  };
}

test("fp32 ONNX equals an independent direct-convolution forward (both archs, odd tiny image)", async () => {
  for (const arch of ARCHES) {
    const w = testWeights(arch, 3);
    const session = await onnxForward(exportVariant(w, arch, info(), "fp32"));
    const m = await compareForwards(session.forward, plainForward(arch, w), sampleInputs(5, [[5, 7], [1, 3]]));
    await session.release();
    assert.ok(m.maxCurveDiff <= 1e-5, `${arch}: max curve diff ${m.maxCurveDiff}`);
  }
});

test("every variant of both archs matches the TF.js model within its tolerance", async () => {
  const samples = sampleInputs(11);
  for (const arch of ARCHES) {
    const w = testWeights(arch, 21);
    const ref = await tfReference(arch, w, "wasm");
    // Guard against a vacuous comparison: the curves must actually vary.
    const curves = await ref.forward(samples[0]!.data, samples[0]!.h, samples[0]!.w);
    assert.ok(Math.max(...curves) - Math.min(...curves) > 0.1, `${arch}: reference curves are nearly constant`);
    for (const variant of VARIANTS) {
      const session = await onnxForward(exportVariant(w, arch, info(), variant));
      const m = await compareForwards(session.forward, ref.forward, samples);
      await session.release();
      assert.ok(m.maxCurveDiff <= TOLERANCE[variant], `${arch} ${variant}: max curve diff ${m.maxCurveDiff} > ${TOLERANCE[variant]}`);
      assert.ok(m.imagePsnr >= MIN_PSNR[variant], `${arch} ${variant}: image PSNR ${m.imagePsnr} < ${MIN_PSNR[variant]}`);
    }
    ref.dispose();
  }
});

test("the written model describes itself: metadata, opset, dynamic NCHW input, weight storage", () => {
  for (const arch of ARCHES) {
    for (const variant of VARIANTS) {
      const bytes = exportVariant(testWeights(arch, 1), arch, info(), variant);
      const model = parseModel(bytes);
      assert.equal(model.producerName, "lowlight-edge");
      assert.equal(Number(model.irVersion), 7);
      assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [["", 13]]);
      const spec = networkSpec(arch);
      const want: ModelInfo = { ...info(), arch, variant, iterations: 8, curveMaps: spec.curveMaps };
      assert.deepEqual(modelInfoFromMetadata(readMetadata(bytes)), want);
      const graph = model.graph!;
      const g = { input: graph.input ?? [], output: graph.output ?? [], initializer: graph.initializer ?? [], node: graph.node ?? [] };
      const dims = (v: onnxProto.onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
      assert.deepEqual(g.input.map((i) => i.name), ["input"]);
      assert.deepEqual(dims(g.input[0]!), [1, 3, "height", "width"]);
      assert.deepEqual(g.output.map((o) => o.name), ["curves"]);
      assert.deepEqual(dims(g.output[0]!), [1, spec.curveChannels, "height", "width"]);
      assert.equal(g.input[0]!.type!.tensorType!.elemType, onnx.TensorProto.DataType.FLOAT);
      const types = new Set(g.initializer.map((t) => t.dataType));
      const F = onnx.TensorProto.DataType;
      const expected = { fp32: [F.FLOAT], fp16: [F.FLOAT16], int8: [F.FLOAT, F.INT8] }[variant];
      assert.deepEqual([...types].sort(), [...expected].sort(), `${arch} ${variant} initializer types`);
      const ops = new Set(g.node.map((n) => n.opType));
      if (variant === "fp16") assert.ok(ops.has("Cast"));
      if (variant === "int8") assert.ok(ops.has("DequantizeLinear"));
      if (arch === "lite") assert.ok(g.node.some((n) => n.opType === "Conv" && (n.attribute ?? []).some((a) => a.name === "group" && Number(a.i) === 32)));
    }
  }
});

test("exportModel writes the variants, deploys one, writes the card and keeps training details on re-export", async () => {
  const dir = mkdtempSync(join(tmpdir(), "export-"));
  try {
    const w = testWeights("lite", 4);
    const ref = await tfReference("lite", w, "wasm");
    const logs: string[] = [];
    const base = { weights: w, arch: "lite" as const, info: info(), outDir: dir, reference: ref.forward, referenceName: "tfjs", log: (l: string) => logs.push(l) };
    const r = await exportModel({ ...base, training: { steps: 10, data: "synthetic" } });
    assert.equal(r.deployed, "int8");
    assert.deepEqual(readFileSync(join(dir, "lowlight.onnx")), readFileSync(join(dir, "lowlight.int8.onnx")));
    for (const v of VARIANTS) assert.ok(existsSync(join(dir, `lowlight.${v}.onnx`)));
    assert.match(logs.join("\n"), /variant +size +max \|curve diff\| +image PSNR/);
    const card = JSON.parse(readFileSync(join(dir, "model-card.json"), "utf8")) as ModelCard;
    assert.equal(card.architecture.parameters, 10_561);
    assert.deepEqual(card.training, { steps: 10, data: "synthetic" });
    assert.equal(card.deployed.variant, "int8");
    for (const v of card.variants) {
      const sha = (await import("node:crypto")).createHash("sha256").update(readFileSync(join(dir, v.file))).digest("hex");
      assert.equal(v.sha256, sha, v.file);
    }
    assert.match(readFileSync(join(dir, "README.md"), "utf8"), /# test-model 1\.2\.3[\s\S]*int8 \(deployed\)[\s\S]*"steps": 10/);

    // Re-export of the same weights without training details keeps them; forced fp16 fallback.
    const again = await exportModel({ ...base, minDeployPsnrDb: 1000 });
    assert.equal(again.deployed, "fp16");
    const card2 = JSON.parse(readFileSync(join(dir, "model-card.json"), "utf8")) as ModelCard;
    assert.deepEqual(card2.training, { steps: 10, data: "synthetic" });
    assert.match(card2.deployed.why, /fp16 was deployed instead/);

    // Other weights: the old training section no longer applies.
    const other = testWeights("lite", 5);
    await exportModel({ ...base, weights: other, reference: undefined, deploy: "fp32" });
    const card3 = JSON.parse(readFileSync(join(dir, "model-card.json"), "utf8")) as ModelCard;
    assert.equal(card3.training, undefined);
    assert.equal(card3.deployed.variant, "fp32");
    assert.match(card3.verification.reference, /fp32 ONNX/);

    // A reference that disagrees with the fp32 graph means a broken export: refuse.
    await assert.rejects(exportModel({ ...base, reference: async (x, h, wd) => new Float32Array(3 * h * wd) }), /exported graph is wrong/);
    ref.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("export refuses weights that do not fit the architecture", () => {
  const w = testWeights("dce", 1);
  assert.throws(() => exportVariant(w, "lite", info(), "fp32"), /weights lack "e_conv1.depth_conv.weight"/);
  w.set("e_conv7.bias", { shape: [3], data: new Float32Array(3) });
  assert.throws(() => exportVariant(w, "dce", info(), "fp32"), /"e_conv7.bias" has shape \[3\], arch dce needs \[24\]/);
  assert.throws(() => exportVariant(testWeights("dce", 1), "dce", info({ arch: "lite" }), "fp32"), /contradicts/);
});

test("float16 conversion rounds to nearest even and round-trips every half value", () => {
  for (let h = 0; h < 0x10000; h++) {
    const f = halfToFloat(h);
    if (Number.isNaN(f)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(f))));
    else assert.equal(floatToHalf(f), h, `0x${h.toString(16)}`);
  }
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie -> even
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(floatToHalf(2 ** -25), 0); // half the smallest subnormal, tie -> 0
  assert.equal(floatToHalf(3 * 2 ** -26), 1);
  assert.equal(floatToHalf(65519), 0x7bff);
  assert.equal(floatToHalf(65520), 0x7c00); // rounds up to infinity
  assert.equal(floatToHalf(-1e-10), 0x8000);
});

test("int8 per-channel quantization: symmetric, per output channel, error within half a step", () => {
  const rand = mulberry32(3);
  const data = new Float32Array(4 * 18).map(() => (rand() - 0.5) * 2);
  data.fill(0, 18, 36); // an all-zero channel
  for (let i = 54; i < 72; i++) data[i] = data[i]! * 100; // a channel with a much larger range
  const { q, scales } = quantizeInt8PerChannel({ shape: [4, 2, 3, 3], data });
  assert.equal(scales[1], 1);
  const back = dequantizeInt8PerChannel(q, scales);
  for (let c = 0; c < 4; c++) {
    const slice = [...q.slice(c * 18, (c + 1) * 18)];
    if (c !== 1) assert.equal(Math.max(...slice.map(Math.abs)), 127, `channel ${c} uses the full range`);
    for (let i = c * 18; i < (c + 1) * 18; i++) assert.ok(Math.abs(back[i]! - data[i]!) <= scales[c]! / 2 + 1e-6);
  }
  assert.ok(q.every((v) => v >= -127 && v <= 127));
});
