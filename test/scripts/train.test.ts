// Short real training runs on generated dark images (loss falls, images get brighter), the CLI end to
// end with export and report, bit-exact resume from a snapshot, seeded batches, flags and the
// empty-data message.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { promisify } from "node:util";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initNodeCodecs } from "../../scripts/lib/node-engine.ts";
import { encode } from "../../src/image/codecs.ts";
import { mulberry32 } from "../../src/shared/rng.ts";
import { runTraining, WEIGHTS_FILE, type TrainOptions } from "../../scripts/tf/trainer.ts";
import { createOptimizer, trainStep } from "../../scripts/tf/step.ts";
import { main, parseTrainArgs, UsageError } from "../../scripts/train.ts";
import { batchIndices, darkerCopy, makeBatch } from "../../scripts/tf/augment.ts";
import { listImages, loadImages, NoTrainingDataError } from "../../scripts/tf/data.ts";
import { CONSISTENCY_SCALES, defaultLossWeights } from "../../scripts/tf/losses.ts";
import { readSafetensorsFile } from "../../scripts/weights-io/safetensors.ts";
import { Progress, formatDuration } from "../../scripts/tf/progress.ts";

let root: string;
let dataDir: string;

/** Six dark 32x32 images: coloured gradients and waves at 5-25% brightness plus noise, two in a subfolder. */
async function writeDarkImages(dir: string): Promise<void> {
  mkdirSync(join(dir, "sub"), { recursive: true });
  const r = mulberry32(11);
  for (let i = 0; i < 6; i++) {
    const w = 32;
    const h = 32;
    const d = new Uint8Array(w * h * 4);
    const gain = 0.05 + 0.2 * r();
    const tint = [0.6 + 0.4 * r(), 0.6 + 0.4 * r(), 0.6 + 0.4 * r()];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const v = gain * tint[c]! * (0.4 + 0.3 * Math.sin(x / 5 + i) + 0.3 * (y / h)) + 0.02 * r();
          d[(y * w + x) * 4 + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
        }
        d[(y * w + x) * 4 + 3] = 255;
      }
    writeFileSync(join(dir, i < 4 ? "" : "sub", `dark${i}.png`), await encode({ width: w, height: h, data: d }, "png"));
  }
}

function options(arch: "dce" | "lite", name: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    data: [dataDir],
    arch,
    size: 32,
    augment: false,
    batch: 4,
    steps: 16,
    lr: 1e-2,
    lrSchedule: "constant",
    lrMin: 0,
    weightDecay: 1e-4,
    clip: 0.1,
    seed: 3,
    logEvery: 1000,
    snapshotEvery: 0,
    resume: false,
    outDir: join(root, name, "out"),
    runDir: join(root, name, "run"),
    backend: "wasm",
    loss: { weights: defaultLossWeights(arch), exposure: 0.6, patch: 16 },
    noExport: true,
    name: "test",
    samples: 2,
    commandLine: "test",
    log: () => {},
    tty: false,
    ...extra,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("training", () => {
  before(async () => {
    root = mkdtempSync(join(tmpdir(), "train-test-"));
    dataDir = join(root, "data");
    await initNodeCodecs();
    await writeDarkImages(dataDir);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const arch of ["lite", "dce"] as const) {
    it(`${arch}: a short run lowers the loss and brightens the images`, async () => {
      const r = await runTraining(options(arch, `short-${arch}`));
      assert.equal(r.history.length, 16);
      const first = r.history.slice(0, 3);
      const last = r.history.slice(-3);
      assert.ok(mean(last.map((h) => h.total)) < 0.7 * mean(first.map((h) => h.total)), `loss ${mean(first.map((h) => h.total))} -> ${mean(last.map((h) => h.total))}`);
      assert.ok(mean(last.map((h) => h.brightness)) > mean(first.map((h) => h.brightness)) + 0.1, "brightness rises");
      assert.ok(existsSync(r.weightsFile));
      r.model.dispose();
    });
  }

  it("the consistency loss brings a darker shot's enhancement closer to the image's own", async () => {
    // The same short run with and without it; then each image and a copy at 0.4x its light go through
    // the trained net, and the gap between their enhancements' brightness is compared.
    const gap = async (consistency: number | undefined, name: string) => {
      const r = await runTraining(options("lite", name, { steps: 24, loss: { weights: defaultLossWeights("lite"), exposure: 0.6, patch: 16, consistency } }));
      if (consistency) {
        assert.ok(r.history.every((h) => h.cons !== undefined && h.cons > 0), "the term is logged every step");
        const logged = JSON.parse(readFileSync(join(root, name, "run", "log.jsonl"), "utf8").split("\n")[0]!);
        assert.ok(logged.cons > 0, "and written to the run's log");
        const x = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
        assert.throws(() => trainStep(r.model, createOptimizer(1e-3), x, { loss: { weights: defaultLossWeights("lite"), exposure: 0.6, patch: 16, consistency: 1 }, clip: 0.1, weightDecay: 0, microBatch: 2 }), /needs a darker copy of the batch, shaped \[2,16,16,3\]/);
        x.dispose();
      } else assert.ok(r.history.every((h) => h.cons === undefined));
      const images = (await loadImages([dataDir], 32)).images;
      const gaps: number[] = [];
      for (const img of images) {
        const x = tf.tensor4d(img.rgb, [1, img.height, img.width, 3]);
        const xd = tf.tensor4d(img.rgb.map((v) => Math.round(v * 0.4 * 255) / 255), [1, img.height, img.width, 3]);
        const own = r.model.enhance(x, r.model.apply(x)).image8;
        const dark = r.model.enhance(xd, r.model.apply(xd)).image8;
        gaps.push(tf.mean(own).dataSync()[0]! - tf.mean(dark).dataSync()[0]!);
        tf.dispose([x, xd, own, dark]);
      }
      r.model.dispose();
      return mean(gaps);
    };
    const without = await gap(undefined, "cons-off");
    // A heavy weight, so that 24 steps show it (the real runs use 10 over thousands).
    const withIt = await gap(100, "cons-on");
    assert.ok(without > 0.02, `without the term a darker shot comes out darker (gap ${without})`);
    assert.ok(withIt < 0.25 * without, `gap ${without} -> ${withIt}`);
  });

  it("resuming from a snapshot continues exactly where the run stopped", async () => {
    const straight = await runTraining(options("lite", "straight", { steps: 6, snapshotEvery: 3 }));
    straight.model.dispose();
    const half = await runTraining(options("lite", "halves", { steps: 3, snapshotEvery: 3 }));
    half.model.dispose();
    await assert.rejects(runTraining(options("lite", "halves", { steps: 6, snapshotEvery: 3 })), /already has snapshots.*--resume/);
    const rest = await runTraining(options("lite", "halves", { steps: 6, snapshotEvery: 3, resume: true }));
    rest.model.dispose();
    assert.equal(rest.startStep, 3);
    assert.deepEqual(
      rest.history.map((h) => h.total),
      straight.history.map((h) => h.total),
    );
    const a = readSafetensorsFile(new Uint8Array(readFileSync(straight.weightsFile))).weights;
    const b = readSafetensorsFile(new Uint8Array(readFileSync(rest.weightsFile))).weights;
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
    await assert.rejects(runTraining(options("lite", "nothing", { resume: true })), /no snapshot/);
  });

  it("npm run train end to end: ONNX export verified against TF.js, card with the training section, report", async () => {
    const out = join(root, "cli", "out");
    const lines: string[] = [];
    const origLog = console.log;
    console.log = (m: string) => lines.push(m);
    const code = await main(["--data", dataDir, "--arch", "lite", "--size", "32", "--steps", "4", "--batch", "4", "--lr", "1e-2", "--out", out, "--run-dir", join(root, "cli", "run"), "--backend", "wasm", "--samples", "2", "--log-every", "2"]).finally(() => (console.log = origLog));
    assert.equal(code, 0);
    assert.ok(lines.some((l) => /^step 4\/4 +loss .* img\/s/.test(l)), "plain log lines when not a terminal");
    assert.ok(lines.some((l) => /verified against the trained TF.js model/.test(l)));
    for (const f of ["lowlight.onnx", "lowlight.fp32.onnx", "lowlight.int8.onnx", WEIGHTS_FILE, "model-card.json", "training-report.html", "training-loss.svg", "training-samples.png"]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const card = JSON.parse(readFileSync(join(out, "model-card.json"), "utf8"));
    assert.equal(card.training.steps, 4);
    assert.equal(card.training.images, 6);
    assert.match(card.training.command, /--steps 4/);
    assert.match(readFileSync(join(out, "training-loss.svg"), "utf8"), /^<svg[\s\S]*<path[\s\S]*<\/svg>\n$/);
  });

  it("the wasm backend on 1 or 2 threads trains the same weights, bit for bit", async () => {
    // One process starts the backend once, so each thread count gets its own `npm run train`.
    const run = async (threads: number) => {
      const dir = join(root, `threads-${threads}`);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", "scripts/train.ts", "--data", dataDir, "--arch", "dce", "--size", "32", "--steps", "3", "--batch", "4", "--lr", "1e-2",
          "--out", join(dir, "out"), "--run-dir", join(dir, "run"), "--backend", "wasm", "--threads", String(threads), "--no-export", "--log-every", "1"],
        { maxBuffer: 1 << 22 },
      );
      return { stdout, weights: readFileSync(join(dir, "out", WEIGHTS_FILE)) };
    };
    const one = await run(1);
    const two = await run(2);
    assert.match(one.stdout, /backend: wasm \(SIMD, single thread\)/);
    assert.match(two.stdout, /backend: wasm \(SIMD, 2 threads\)/);
    assert.ok(one.weights.length > 1000);
    assert.ok(one.weights.equals(two.weights), "the weights differ between 1 and 2 threads");
  });

  it("with no images, says where to put them", async () => {
    const empty = join(root, "empty");
    mkdirSync(empty);
    assert.throws(() => listImages([empty]), (e: Error) => e instanceof NoTrainingDataError && /has no .*png/.test(e.message));
    // The default folder, relative to the working directory.
    const cwd = process.cwd();
    const errors: string[] = [];
    const origError = console.error;
    console.error = (m: string) => errors.push(m);
    try {
      process.chdir(empty);
      assert.equal(await main([]), 1);
    } finally {
      process.chdir(cwd);
      console.error = origError;
    }
    assert.match(errors.join("\n"), /Put PNG, JPEG or BMP photos in data\/train\//);
  });
});

describe("batches and flags", () => {
  it("each epoch visits every image once, in a seeded order", () => {
    const seen = [0, 1, 2].flatMap((s) => batchIndices(6, 2, s, 5));
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(batchIndices(6, 2, 4, 5), batchIndices(6, 2, 4, 5));
    assert.notDeepEqual([0, 1, 2].flatMap((s) => batchIndices(6, 2, s, 5)), [3, 4, 5].flatMap((s) => batchIndices(6, 2, s, 5)));
  });

  it("augmentation changes exposure; without it crops are exact copies", () => {
    const rgb = Float32Array.from({ length: 8 * 8 * 3 }, (_, i) => ((i * 7) % 50) / 100 + 0.25);
    const imgs = [{ name: "a", width: 8, height: 8, rgb }];
    const plain = makeBatch(imgs, 2, 8, 0, 1, { augment: false });
    assert.deepEqual(plain.subarray(0, rgb.length), rgb);
    const aug = makeBatch(imgs, 8, 8, 0, 1, { augment: true });
    const means = [0, 1, 2, 3, 4, 5, 6, 7].map((b) => mean(Array.from(aug.subarray(b * rgb.length, (b + 1) * rgb.length))));
    assert.ok(means.some((m) => Math.abs(m - mean(Array.from(rgb))) > 0.1));
    assert.ok(aug.every((v) => v >= 0 && v <= 1));
  });

  it("darker copies: each image at its own seeded scale in the consistency range, on 8-bit levels", () => {
    const batch = Float32Array.from({ length: 4 * 6 }, (_, i) => ((i * 37) % 256) / 255);
    const a = darkerCopy(batch, 4, 7, 1, CONSISTENCY_SCALES);
    assert.deepEqual(a, darkerCopy(batch, 4, 7, 1, CONSISTENCY_SCALES));
    assert.notDeepEqual(a.scales, darkerCopy(batch, 4, 8, 1, CONSISTENCY_SCALES).scales);
    assert.equal(new Set(a.scales).size, 4);
    for (const [b, s] of a.scales.entries()) {
      assert.ok(s >= CONSISTENCY_SCALES.min && s <= CONSISTENCY_SCALES.max, `scale ${s}`);
      for (let i = b * 6; i < (b + 1) * 6; i++) {
        assert.equal(a.data[i], Math.fround(Math.round(batch[i]! * s * 255) / 255));
      }
    }
  });

  it("parses flags with the documented defaults and rejects bad ones", () => {
    // From scratch: the recipe's own defaults.
    const o = parseTrainArgs(["--from-scratch"])!;
    assert.equal(o.fromScratch, true);
    assert.equal(o.arch, "lite");
    assert.equal(o.size, 128);
    assert.equal(o.batch, 8);
    assert.equal(o.lr, 1e-3);
    assert.equal(o.clip, 0.1);
    assert.deepEqual(o.loss, { weights: { tv: 1600, spa: 1, col: 5, exp: 10 }, exposure: 0.6, patch: 16, variant: "zero-dce" });
    assert.deepEqual(o.data, ["data/train/"]);
    assert.equal(o.runDir, "runs/lite-128");
    assert.equal(o.threads, Math.min(8, availableParallelism()));
    // By default a run fine-tunes the model in --out (here the shipped one) and keeps its recipe.
    const card = JSON.parse(readFileSync(new URL("../../model/model-card.json", import.meta.url), "utf8")) as {
      training: { size: number; crop: number; losses: { exposureLevel: number; patch: number } };
    };
    const ft = parseTrainArgs([])!;
    assert.equal(ft.fromScratch, false);
    assert.equal(ft.size, card.training.size);
    assert.equal(ft.crop, card.training.crop);
    assert.equal(ft.loss.exposure, card.training.losses.exposureLevel);
    assert.equal(ft.loss.patch, card.training.losses.patch);
    assert.equal(parseTrainArgs(["--exposure", "0.55"])!.loss.exposure, 0.55, "a flag still wins");
    assert.equal(parseTrainArgs(["--size", "96"])!.crop, undefined, "another size: the crop is chosen for it");
    assert.throws(() => parseTrainArgs(["--from-scratch", "--init", "w.safetensors"]), /--init FILE or --from-scratch, not both/);
    assert.equal(parseTrainArgs(["--threads", "1"])!.threads, 1);
    assert.equal(parseTrainArgs(["--w-cons", "10"])!.loss.consistency, 10);
    assert.throws(() => parseTrainArgs(["--w-cons", "-1"]), /--w-cons/);
    assert.throws(() => parseTrainArgs(["--threads", "9"]), /--threads must be an integer from 1 to 8, got "9"/);
    assert.throws(() => parseTrainArgs(["--threads", "0"]), /--threads must be an integer from 1 to 8/);
    const d = parseTrainArgs(["--arch", "dce", "--data", "a,b", "--w-tv", "50", "--exposure", "0.5", "--epochs", "2"])!;
    assert.equal(d.loss.weights.tv, 50);
    assert.equal(d.loss.exposure, 0.5);
    assert.deepEqual(d.data, ["a", "b"]);
    assert.equal(d.epochs, 2);
    assert.equal(parseTrainArgs(["--losses", "gain-invariant"])!.loss.variant, "gain-invariant");
    assert.throws(() => parseTrainArgs(["--losses", "scale-free"]), /--losses must be one of zero-dce, gain-invariant/);
    assert.equal(parseTrainArgs(["--help"]), null);
    assert.throws(() => parseTrainArgs(["--arch", "big"]), UsageError);
    assert.throws(() => parseTrainArgs(["--batch", "0"]), UsageError);
    assert.throws(() => parseTrainArgs(["--steps", "5", "--epochs", "1"]), UsageError);
    assert.throws(() => parseTrainArgs(["--bogus"]), UsageError);
  });
});

describe("progress output", () => {
  it("draws a bar with ETA on a terminal and keeps log lines above it", () => {
    const raw: string[] = [];
    const lines: string[] = [];
    const p = new Progress(10, 0, { tty: true, write: (s) => raw.push(s), line: (s) => lines.push(s), width: 10 });
    p.update(5, "loss 1.0");
    p.log("step 5/10");
    p.finish();
    assert.match(raw[0]!, /\[#####\.\.\.\.\.\] 5\/10 50% loss 1\.0 ETA \d+s/);
    assert.deepEqual(lines, ["step 5/10"]);
    const plain: string[] = [];
    const q = new Progress(10, 0, { tty: false, write: (s) => plain.push(`RAW ${s}`), line: (s) => plain.push(s) });
    q.update(5, "x");
    q.log("step 5/10");
    assert.deepEqual(plain, ["step 5/10"]);
    assert.equal(formatDuration(3725), "1h02m");
  });
});

it("cosine learning rate: starts at --lr, ends at --lr-min, decreases monotonically", async () => {
  const { learningRate } = await import("../../scripts/tf/trainer.ts");
  const o = { lr: 1e-3, lrMin: 1e-5, lrSchedule: "cosine" as const, steps: 101 };
  assert.equal(learningRate(o, 0), 1e-3);
  assert.ok(Math.abs(learningRate(o, 100) - 1e-5) < 1e-15);
  assert.ok(Math.abs(learningRate(o, 50) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12);
  for (let s = 1; s <= 100; s++) assert.ok(learningRate(o, s) < learningRate(o, s - 1));
  assert.equal(learningRate({ ...o, lrSchedule: "constant" }, 70), 1e-3);
});

