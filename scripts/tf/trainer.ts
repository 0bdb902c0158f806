/**
 * The training run behind `npm run train`: data, model (fresh, --init or resumed), the step loop with
 * logging and snapshots, then the weights, the ONNX export (verified against this TF.js model), the
 * model card's training section and the training report.
 */
import * as tf from "@tensorflow/tfjs";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "../lib/network.ts";
import { DEFAULT_ESTIMATION_SIZE, type Variant } from "../../src/engine/model-info.ts";
import { loadWeightsFile } from "../weights-io/load-weights.ts";
import { writeSafetensors } from "../weights-io/safetensors.ts";
import { exportModel } from "../onnx/export-model.ts";
import { forwardFromTf } from "../onnx/tf-reference.ts";
import { setupBackend, type BackendChoice } from "./backend.ts";
import { createModel, type TfModel } from "./model.ts";
import { CONSISTENCY_SCALES, type LossConfig } from "./losses.ts";
import { createOptimizer, trainStep, type StepResult } from "./step.ts";
import { defaultCrop, ensureMinSide, loadImages } from "./data.ts";
import { darkerCopy, makeBatch } from "./augment.ts";
import { latestSnapshot, loadSnapshot, saveSnapshot } from "./snapshot.ts";
import { Progress, formatDuration } from "./progress.ts";
import { pickSamples, writeReport, type HistoryEntry } from "./report.ts";
import { compareModels, currentModel, keepReplaced, nextVersion } from "./replace.ts";

export type LrSchedule = "constant" | "cosine";

/** Learning rate for 0-based `step` of a run of `steps`: a pure function of the step, so --resume agrees. */
export function learningRate(o: Pick<TrainOptions, "lr" | "lrMin" | "lrSchedule" | "steps">, step: number): number {
  if (o.lrSchedule === "constant" || o.steps <= 1) return o.lr;
  return o.lrMin + 0.5 * (o.lr - o.lrMin) * (1 + Math.cos((Math.PI * step) / (o.steps - 1)));
}

export interface TrainOptions {
  data: string[];
  arch: Arch;
  size: number;
  /** Estimation size written into the exported model (default DEFAULT_ESTIMATION_SIZE). */
  estimationSize?: number;
  /** Square crop side; undefined = chosen from the data (see defaultCrop). */
  crop?: number;
  augment: boolean;
  batch: number;
  /** Total steps of the run (a resumed run continues up to this). */
  steps: number;
  lr: number;
  /** How the learning rate moves over the run; cosine ends at lrMin. */
  lrSchedule: LrSchedule;
  lrMin: number;
  weightDecay: number;
  clip: number;
  seed: number;
  logEvery: number;
  snapshotEvery: number;
  resume: boolean;
  /** Weights to start from; default: the model in outDir when it is of this arch (fine-tuning). */
  init?: string;
  /** Start from random weights even when outDir holds a model to fine-tune. */
  fromScratch?: boolean;
  /** The exported model's version; default: the next after the replaced model's (nextVersion). */
  version?: string;
  outDir: string;
  runDir: string;
  backend: BackendChoice;
  /** Threads for the wasm backend (default 1); results do not depend on it. */
  threads?: number;
  loss: LossConfig;
  /** undefined = as large as keeps one pass within ~2x the pixels of 8 images at 128x128. */
  microBatch?: number;
  exportVariant?: Variant;
  /** Skip the ONNX export (weights and report are still written). */
  noExport: boolean;
  name: string;
  samples: number;
  /** Recorded in the model card. */
  commandLine: string;
  log?: (line: string) => void;
  /** Progress bar on/off; default: when stdout is a terminal. */
  tty?: boolean;
}

export interface TrainOutcome {
  model: TfModel;
  history: HistoryEntry[];
  steps: number;
  startStep: number;
  secondsPerStep: number;
  weightsFile: string;
  files: string[];
}

export const WEIGHTS_FILE = "lowlight.safetensors";
const LOG_FILE = "log.jsonl";
export const MAX_PIXELS_PER_PASS = 2 * 8 * 128 * 128;

function readHistory(runDir: string, upTo: number): HistoryEntry[] {
  const p = join(runDir, LOG_FILE);
  if (!existsSync(p)) return [];
  return readFileSync(p, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as HistoryEntry)
    .filter((h) => h.step <= upTo);
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

const fmt = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(4) : v.toExponential(2));

export async function runTraining(o: TrainOptions): Promise<TrainOutcome> {
  const log = o.log ?? ((l: string) => console.log(l));
  const backend = await setupBackend(o.backend, { log, threads: o.threads ?? 1 });

  log(`loading images from ${o.data.join(", ")} ...`);
  const loadStart = performance.now();
  const loaded = await loadImages(o.data, o.size);
  const images = loaded.images;
  for (const s of loaded.skipped) log(`warning: skipped ${s.file}: ${s.reason}`);
  const minCrop = Math.max(o.loss.patch, 16);
  const crop = o.crop ?? defaultCrop(images, o.size, minCrop);
  if (crop < o.loss.patch) throw new Error(`--crop ${crop} is smaller than the exposure patch ${o.loss.patch}`);
  const enlarged = await ensureMinSide(images, crop);
  const micro = o.microBatch ?? Math.max(1, Math.min(o.batch, Math.floor(MAX_PIXELS_PER_PASS / (crop * crop))));
  log(
    `data: ${images.length} images (${Object.entries(loaded.perFolder).map(([f, n]) => `${f}: ${n}`).join(", ")}), ` +
      `resized to longer side ${o.size}, random ${crop}x${crop} crops${o.augment ? ", augmented (exposure, flips)" : ""}` +
      (enlarged ? `; ${enlarged} small images enlarged to fit the crop` : "") +
      ` (${((performance.now() - loadStart) / 1000).toFixed(1)} s)`,
  );

  // The model this run will replace: the default starting point (a user retrains to improve what
  // they have), kept aside, and compared with the result at the end.
  const current = currentModel(o.outDir);
  const replaced = current ? `${current.info.name}@${current.info.version}` : undefined;
  let init = o.init;
  let fineTuned = false;
  if (init === undefined && !o.resume && !o.fromScratch && current?.weights) {
    if (current.info.arch === o.arch) {
      init = current.weights;
      fineTuned = true;
      log(`init: fine-tuning the current model, ${replaced} (${current.weights}); --from-scratch starts from random weights instead`);
    } else {
      log(`init: random weights (the current model, ${replaced}, is ${current.info.arch}, not ${o.arch})`);
    }
  }
  let initWeights;
  if (init) {
    const w = loadWeightsFile(init);
    if (w.arch !== o.arch) throw new Error(`--init ${init} holds ${w.arch} weights but --arch is ${o.arch}`);
    initWeights = w.weights;
    if (!fineTuned) log(`init: ${init} (${w.format})`);
  }
  const model = createModel(o.arch, initWeights, o.seed);
  const optimizer = createOptimizer(o.lr);

  let start = 0;
  if (o.resume) {
    const snap = latestSnapshot(o.runDir);
    if (!snap) throw new Error(`--resume: no snapshot in ${o.runDir} (snapshots are written every --snapshot-every steps)`);
    const s = await loadSnapshot(snap.path, model, optimizer);
    if (s.meta.arch && s.meta.arch !== o.arch) throw new Error(`snapshot ${snap.path} is for arch ${s.meta.arch}, not ${o.arch}`);
    start = s.step;
    log(`resumed from ${snap.path} at step ${start}${s.optimizerRestored ? "" : " (no optimizer state)"}`);
  } else if (latestSnapshot(o.runDir)) {
    throw new Error(`${o.runDir} already has snapshots of an earlier run: pass --resume to continue it, or choose another --run-dir (or delete it)`);
  }
  mkdirSync(o.runDir, { recursive: true });
  const keptIn = join(o.runDir, "replaced-model");
  if (current && !o.noExport) {
    keepReplaced(o.outDir, keptIn);
    log(`the model this run replaces, ${replaced}, is kept in ${keptIn}/ (to go back: cp ${keptIn}/* ${o.outDir})`);
  }
  const history = readHistory(o.runDir, start);
  writeFileSync(join(o.runDir, LOG_FILE), history.map((h) => JSON.stringify(h) + "\n").join(""));
  const meta = { arch: o.arch, seed: String(o.seed), options: JSON.stringify({ ...o, log: undefined }) };

  const stepOpts = { loss: o.loss, clip: o.clip, weightDecay: o.weightDecay, microBatch: micro };
  log(
    `training ${o.arch} for steps ${start + 1}..${o.steps}: batch ${o.batch}${micro < o.batch ? ` (micro-batches of ${micro})` : ""}, ` +
      `Adam lr ${o.lr}${o.lrSchedule === "cosine" ? ` (cosine to ${o.lrMin})` : ""} wd ${o.weightDecay} clip ${o.clip}, loss${o.loss.variant === "gain-invariant" ? " (gain-invariant spa, col)" : ""} ${o.loss.weights.tv}*TV + ${o.loss.weights.spa}*spa + ${o.loss.weights.col}*col + ${o.loss.weights.exp}*exp (E ${o.loss.exposure}, patch ${o.loss.patch})` +
      (o.loss.consistency ? ` + ${o.loss.consistency}*cons (darker copies at ${CONSISTENCY_SCALES.min}-${CONSISTENCY_SCALES.max}x)` : "") +
      `, seed ${o.seed}`,
  );
  const progress = new Progress(o.steps, start, { tty: o.tty, line: log });
  let window: StepResult[] = [];
  let windowTime = 0;
  let lastSnapshot = start;
  const t0 = performance.now();
  for (let step = start; step < o.steps; step++) {
    const ts = performance.now();
    // tfjs's Adam reads its learningRate field on every step; there is no public setter.
    (optimizer as unknown as { learningRate: number }).learningRate = learningRate(o, step);
    const data = makeBatch(images, o.batch, crop, step, o.seed, { augment: o.augment });
    const x = tf.tensor4d(data, [o.batch, crop, crop, 3]);
    const dark = o.loss.consistency ? tf.tensor4d(darkerCopy(data, o.batch, step, o.seed, CONSISTENCY_SCALES).data, x.shape) : undefined;
    const r = trainStep(model, optimizer, x, stepOpts, dark);
    x.dispose();
    dark?.dispose();
    windowTime += (performance.now() - ts) / 1000;
    if (!Number.isFinite(r.total)) throw new Error(`loss became ${r.total} at step ${step + 1}: lower --lr (now ${o.lr}) or check the data`);
    const entry: HistoryEntry = { step: step + 1, tv: r.tv, spa: r.spa, col: r.col, exp: r.exp, total: r.total, brightness: r.brightness, ...(o.loss.consistency ? { cons: r.cons } : {}) };
    history.push(entry);
    appendFileSync(join(o.runDir, LOG_FILE), JSON.stringify(entry) + "\n");
    window.push(r);
    const done = step + 1;
    progress.update(done, `loss ${fmt(r.total)}`);
    if (done % o.logEvery === 0 || done === o.steps) {
      const avg = (k: keyof StepResult) => window.reduce((a, w) => a + w[k], 0) / window.length;
      progress.log(
        `step ${done}/${o.steps}  loss ${fmt(avg("total"))} (tv ${fmt(avg("tv"))} spa ${fmt(avg("spa"))} col ${fmt(avg("col"))} exp ${fmt(avg("exp"))}${o.loss.consistency ? ` cons ${fmt(avg("cons"))}` : ""})` +
          `  bright ${avg("brightness").toFixed(3)}  |g| ${avg("gradNorm").toFixed(3)}  ${((window.length * o.batch) / windowTime).toFixed(1)} img/s` +
          `  ${(windowTime / window.length).toFixed(2)} s/step  ETA ${formatDuration(progress.eta(done))}`,
      );
      window = [];
      windowTime = 0;
    }
    if (o.snapshotEvery > 0 && done % o.snapshotEvery === 0) {
      await saveSnapshot(o.runDir, done, model, optimizer, meta);
      lastSnapshot = done;
    }
  }
  progress.finish();
  const trained = Math.max(0, o.steps - start);
  const secondsPerStep = trained > 0 ? (performance.now() - t0) / 1000 / trained : 0;
  if (lastSnapshot !== o.steps && trained > 0) await saveSnapshot(o.runDir, o.steps, model, optimizer, meta);

  mkdirSync(o.outDir, { recursive: true });
  const weights = model.getWeights();
  const weightsFile = join(o.outDir, WEIGHTS_FILE);
  writeFileSync(weightsFile, writeSafetensors(weights, { arch: o.arch, steps: String(o.steps), format: "pytorch state_dict (OIHW)" }));
  const files = [weightsFile];
  log(`weights: ${weightsFile}`);

  const tail = history.slice(-Math.min(50, history.length));
  const avgTail = (k: keyof HistoryEntry) => (tail.length ? Number((tail.reduce((a, h) => a + (h[k] ?? 0), 0) / tail.length).toPrecision(4)) : null);
  const training = {
    command: o.commandLine,
    data: Object.entries(loaded.perFolder).map(([folder, count]) => ({ folder, images: count })),
    images: images.length,
    skippedFiles: loaded.skipped.length,
    size: o.size,
    crop,
    augment: o.augment,
    steps: o.steps,
    batch: o.batch,
    microBatch: micro,
    epochs: Number(((o.steps * o.batch) / images.length).toFixed(2)),
    optimizer: { name: "Adam", lr: o.lr, lrSchedule: o.lrSchedule, lrMin: o.lrMin, weightDecay: o.weightDecay, gradNormClip: o.clip },
    losses: {
      variant: o.loss.variant ?? "zero-dce",
      weights: o.loss.weights,
      exposureLevel: o.loss.exposure,
      patch: o.loss.patch,
      ...(o.loss.consistency ? { consistency: { weight: o.loss.consistency, darkerScales: CONSISTENCY_SCALES } } : {}),
    },
    seed: o.seed,
    init: init ?? "random (Zero-DCE init)",
    ...(fineTuned ? { fineTunedFrom: replaced } : {}),
    resumedFrom: start > 0 ? start : undefined,
    backend,
    secondsPerStep: Number(secondsPerStep.toFixed(3)),
    finalLoss: { total: avgTail("total"), tv: avgTail("tv"), spa: avgTail("spa"), col: avgTail("col"), exp: avgTail("exp"), ...(o.loss.consistency ? { cons: avgTail("cons") } : {}), meanBrightness: avgTail("brightness"), overLastSteps: tail.length },
    report: "training-report.html",
  };

  if (!o.noExport) {
    const result = await exportModel({
      weights,
      arch: o.arch,
      info: {
        name: o.name,
        version: o.version ?? (current ? nextVersion(current.info.version, fineTuned ? "finetuned" : "trained") : packageVersion()),
        estimationSize: o.estimationSize ?? DEFAULT_ESTIMATION_SIZE,
        provenance:
          `${fineTuned ? `fine-tuned from ${replaced}` : init ? `trained from ${init}` : "trained from random weights"}` +
          ` with npm run train on ${images.length} images (${o.data.join(", ")}), ${o.steps} steps`,
        extra: { exposure_level: String(o.loss.exposure), training_steps: String(o.steps), training_crop: String(crop) },
      },
      outDir: o.outDir,
      deploy: o.exportVariant,
      reference: forwardFromTf((x) => model.apply(x)),
      referenceName: `the trained TF.js model (${backend} backend)`,
      training,
      log,
    });
    files.push(result.deployedFile);
    if (current && o.samples > 0) {
      // Both models on the user's own photos, through the pipeline the Worker serves.
      const cmp = await compareModels(join(keptIn, "lowlight.onnx"), result.deployedFile, pickSamples(images, o.samples), join(o.runDir, "compare.png"));
      log(`compare (mean brightness: input -> ${replaced} -> the new model; the pictures: ${cmp.sheet}):`);
      for (const r of cmp.rows) log(`  ${r.name}: ${r.input.toFixed(3)} -> ${r.replaced.toFixed(3)} -> ${r.trained.toFixed(3)}`);
      log(`look at ${cmp.sheet} before deploying; to keep the previous model instead: cp ${keptIn}/* ${o.outDir}`);
    }
  }

  const reportFiles = await writeReport({
    outDir: o.outDir,
    model,
    history,
    samples: pickSamples(images, o.samples),
    title: `${o.name}: ${o.arch}, ${o.steps} steps`,
    summary: training,
  });
  files.push(...reportFiles);
  log(`report: ${reportFiles[0]}`);
  return { model, history, steps: o.steps, startStep: start, secondsPerStep, weightsFile, files };
}
