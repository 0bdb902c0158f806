/**
 * `npm run train -- [flags]`: zero-reference training of DCE-Net in TF.js (Zero-DCE's recipe), then
 * export to ONNX (fp32/fp16/int8, verified against the trained model), model card and training report.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { DEFAULT_ESTIMATION_SIZE, type Variant } from "../src/engine/model-info.ts";
import { ARCHES, type Arch } from "./lib/network.ts";
import { BACKEND_CHOICES, MAX_WASM_THREADS, defaultThreads, type BackendChoice } from "./tf/backend.ts";
import { DEFAULT_DATA_DIR, NoTrainingDataError } from "./tf/data.ts";
import { DEFAULT_EXPOSURE, DEFAULT_PATCH, LOSS_VARIANTS, defaultLossWeights, type LossVariant } from "./tf/losses.ts";
import { runTraining, type LrSchedule, type TrainOptions } from "./tf/trainer.ts";
import { loadWeightsFile } from "./weights-io/load-weights.ts";
import { currentModel, currentRecipe } from "./tf/replace.ts";

export const DEFAULT_ARCH: Arch = "lite";
export const DEFAULT_STEPS = 2000;
/**
 * Default training resolution (longer side). The network is fully convolutional, so a model trained
 * at 128 px serves at 32-64 (the curves it learns are regional, not tied to a pixel scale).
 */
export const DEFAULT_TRAIN_SIZE = 128;

const HELP = `Usage: npm run train -- [flags]

Trains DCE-Net with the Zero-DCE losses (no reference images needed), then writes to --out the ONNX
model (lowlight.onnx + fp32/fp16/int8 variants), weights (lowlight.safetensors), the model card and a
training report (training-report.html, training-loss.svg, training-samples.png).

Data
  --data DIRS            comma-separated folders, searched recursively for PNG/JPEG/BMP (default ${DEFAULT_DATA_DIR})
  --size N               images are resized (Worker's resize code) to longer side N (default ${DEFAULT_TRAIN_SIZE};
                         when fine-tuning, the current model's, as its --crop, --exposure and --patch)
  --estimation-size N    longer side the exported model estimates curves at in fast mode
                         (default ${DEFAULT_ESTIMATION_SIZE})
  --crop N               square random crop per sample (default: the shorter side of most images, <= --size)
  --augment              random under/over-exposure (gain, gamma) and flips, for well-exposed photos
Model
  --arch dce|lite        dce: Zero-DCE (79k params); lite: Zero-DCE++ style (10.5k params, ~8x cheaper
                         to run) (default: the current model's in --out, else ${DEFAULT_ARCH}; or the --init file's)
  --init FILE            start from weights (.safetensors or PyTorch .pth, the seed's load_pretrain)
                         (default: fine-tune the current model in --out, model/lowlight.safetensors)
  --from-scratch         start from random weights instead of the current model
  --version V            the new model's version (default: the next patch after the replaced model's,
                         e.g. 0.2.0 -> 0.2.1-finetuned)
Optimisation
  --steps N              total optimiser steps (default ${DEFAULT_STEPS}); or --epochs E (passes over the data)
  --batch N              images per step (default 8)
  --micro-batch N        split each batch into passes of N images to bound memory (default: automatic)
  --lr X                 Adam learning rate (default 1e-3; the original's 1e-4 is slow at this scale)
  --lr-schedule S        constant | cosine: cosine decays --lr to --lr-min over the run, so the final
                         weights do not depend on where a noisy high-lr run happened to stop (default cosine)
  --lr-min X             final learning rate of the cosine schedule (default 1e-5)
  --weight-decay X       L2 weight decay as PyTorch Adam (default 1e-4)
  --clip X               gradient-norm clipping (default 0.1; 0 disables)
  --seed N               weights init, shuffling, crops and augmentation (default 1)
Loss (Zero-DCE: w_tv*TV + w_spa*spa + w_col*col + w_exp*exp)
  --w-tv X               default 200 (dce) / 1600 (lite)
  --w-spa X  --w-col X  --w-exp X      defaults 1, 5, 10
  --exposure E           well-exposedness level (default ${DEFAULT_EXPOSURE})
  --patch N              exposure patch size (default ${DEFAULT_PATCH})
  --losses V             zero-dce (default): the four losses as the original; gain-invariant: spatial
                         consistency and colour constancy judge structure and cast relative to the
                         brightening, so they no longer hold the darkest photos back
  --w-cons X             exposure consistency (default 0, off): each image is also shown darker (x0.3-0.8,
                         as if shot with less light), and that enhancement is charged for differing
                         from the image's own, so a scene comes out the same however dark it was shot
Run
  --log-every N          print the loss terms and images/s every N steps (default 10)
  --snapshot-every N     snapshot weights + optimizer state every N steps (default 100)
  --run-dir DIR          snapshots and log (default runs/<arch>-<size>)
  --resume               continue from the latest snapshot in --run-dir
  --backend B            ${BACKEND_CHOICES.join("|")} (default auto: tfjs-node(-gpu) if installed, else wasm)
  --threads N            wasm backend threads, 1-${MAX_WASM_THREADS} (default: the cores available, here ${defaultThreads()});
                         the weights are the same bit for bit at any count
Output
  --out DIR              model, card and report (default model/)
  --name NAME            model name in the metadata and card (default lowlight-<arch>)
  --export-variant V     deployed variant fp32|fp16|int8 (default: the exporter's, int8 with fp16 fallback)
  --no-export            skip the ONNX export (weights and report are still written)
  --samples N            images in the before/after sheets: the report's, and the replaced model against
                         the new one through the served pipeline (runs/.../compare.png) (default 6)
  -h, --help
`;

function num(name: string, v: string | undefined, def: number, opts: { int?: boolean; min?: number; max?: number } = {}): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = opts.max !== undefined ? ` from ${opts.min ?? "-inf"} to ${opts.max}` : opts.min !== undefined ? ` >= ${opts.min}` : "";
    throw new UsageError(`--${name} must be ${opts.int ? "an integer" : "a number"}${range}, got "${v}"`);
  }
  return n;
}

export class UsageError extends Error {}

/** Options plus --epochs, which becomes a step count once the images are counted. */
export type ParsedTrainArgs = TrainOptions & { epochs?: number };

/** Parses argv (after `--`) into training options; throws UsageError on bad flags. Returns null for --help. */
export function parseTrainArgs(argv: string[]): ParsedTrainArgs | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        data: { type: "string" },
        size: { type: "string" },
        "estimation-size": { type: "string" },
        crop: { type: "string" },
        augment: { type: "boolean", default: false },
        arch: { type: "string" },
        init: { type: "string" },
        steps: { type: "string" },
        epochs: { type: "string" },
        batch: { type: "string" },
        "micro-batch": { type: "string" },
        lr: { type: "string" },
        "lr-min": { type: "string" },
        "lr-schedule": { type: "string" },
        "weight-decay": { type: "string" },
        clip: { type: "string" },
        seed: { type: "string" },
        "w-tv": { type: "string" },
        "w-spa": { type: "string" },
        "w-col": { type: "string" },
        "w-exp": { type: "string" },
        exposure: { type: "string" },
        patch: { type: "string" },
        losses: { type: "string" },
        "w-cons": { type: "string" },
        "log-every": { type: "string" },
        "snapshot-every": { type: "string" },
        "run-dir": { type: "string" },
        resume: { type: "boolean", default: false },
        "from-scratch": { type: "boolean", default: false },
        version: { type: "string" },
        backend: { type: "string" },
        threads: { type: "string" },
        out: { type: "string" },
        name: { type: "string" },
        "export-variant": { type: "string" },
        "no-export": { type: "boolean", default: false },
        samples: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return null;

  let arch = v.arch as Arch | undefined;
  if (arch !== undefined && !ARCHES.includes(arch)) throw new UsageError(`--arch must be one of ${ARCHES.join(", ")}, got "${arch}"`);
  if (v.init !== undefined && v["from-scratch"]) throw new UsageError("give --init FILE or --from-scratch, not both");
  if (arch === undefined && v.init) arch = loadWeightsFile(v.init).arch;
  // Retraining improves the model the user has: its architecture unless told otherwise.
  const outDir = v.out ?? "model/";
  const current = currentModel(outDir);
  if (arch === undefined && !v["from-scratch"] && !v.resume) arch = current?.info.arch;
  arch ??= DEFAULT_ARCH;
  // Fine-tuning (the default when --out holds a model of this arch) keeps that model's recipe: the
  // image size, crop, exposure level and patch it was trained with, unless a flag says otherwise.
  const fineTuning = !v["from-scratch"] && !v.resume && v.init === undefined && current?.weights != null && current.info.arch === arch;
  const recipe = fineTuning ? currentRecipe(outDir) : {};

  const backend = (v.backend ?? "auto") as BackendChoice;
  if (!BACKEND_CHOICES.includes(backend)) throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(", ")}, got "${backend}"`);
  const variant = v["export-variant"] as Variant | undefined;
  if (variant !== undefined && !["fp32", "fp16", "int8"].includes(variant)) throw new UsageError(`--export-variant must be fp32, fp16 or int8, got "${variant}"`);

  const data = (v.data ?? DEFAULT_DATA_DIR).split(",").map((s) => s.trim()).filter(Boolean);
  if (data.length === 0) throw new UsageError("--data needs at least one folder");
  const size = num("size", v.size, recipe.size ?? DEFAULT_TRAIN_SIZE, { int: true, min: 16 });
  const estimationSize = num("estimation-size", v["estimation-size"], DEFAULT_ESTIMATION_SIZE, { int: true, min: 8 });
  const batch = num("batch", v.batch, 8, { int: true, min: 1 });
  if (v.steps !== undefined && v.epochs !== undefined) throw new UsageError("give --steps or --epochs, not both");
  const dw = defaultLossWeights(arch);
  const o: ParsedTrainArgs = {
    data,
    arch,
    size,
    estimationSize,
    crop: v.crop === undefined ? (v.size === undefined ? recipe.crop : undefined) : num("crop", v.crop, 0, { int: true, min: 16 }),
    augment: v.augment,
    batch,
    steps: num("steps", v.steps, DEFAULT_STEPS, { int: true, min: 1 }),
    lr: num("lr", v.lr, 1e-3, { min: 0 }),
    lrMin: num("lr-min", v["lr-min"], 1e-5, { min: 0 }),
    lrSchedule: parseSchedule(v["lr-schedule"]),
    weightDecay: num("weight-decay", v["weight-decay"], 1e-4, { min: 0 }),
    clip: num("clip", v.clip, 0.1, { min: 0 }),
    seed: num("seed", v.seed, 1, { int: true, min: 0 }),
    logEvery: num("log-every", v["log-every"], 10, { int: true, min: 1 }),
    snapshotEvery: num("snapshot-every", v["snapshot-every"], 100, { int: true, min: 0 }),
    resume: v.resume,
    init: v.init,
    fromScratch: v["from-scratch"],
    ...(v.version !== undefined ? { version: v.version } : {}),
    outDir,
    runDir: v["run-dir"] ?? `runs/${arch}-${size}`,
    backend,
    threads: num("threads", v.threads, defaultThreads(), { int: true, min: 1, max: MAX_WASM_THREADS }),
    loss: {
      weights: {
        tv: num("w-tv", v["w-tv"], dw.tv, { min: 0 }),
        spa: num("w-spa", v["w-spa"], dw.spa, { min: 0 }),
        col: num("w-col", v["w-col"], dw.col, { min: 0 }),
        exp: num("w-exp", v["w-exp"], dw.exp, { min: 0 }),
      },
      exposure: num("exposure", v.exposure, recipe.exposure ?? DEFAULT_EXPOSURE, { min: 0 }),
      patch: num("patch", v.patch, recipe.patch ?? DEFAULT_PATCH, { int: true, min: 1 }),
      variant: parseLossVariant(v.losses),
      ...(v["w-cons"] === undefined ? {} : { consistency: num("w-cons", v["w-cons"], 0, { min: 0 }) }),
    },
    microBatch: v["micro-batch"] === undefined ? undefined : num("micro-batch", v["micro-batch"], batch, { int: true, min: 1 }),
    exportVariant: variant,
    noExport: v["no-export"],
    name: v.name ?? `lowlight-${arch}`,
    samples: num("samples", v.samples, 6, { int: true, min: 0 }),
    commandLine: ["npm run train --", ...argv].join(" "),
  };
  // --epochs needs the image count: resolved in main() once the data is listed.
  if (v.epochs !== undefined) o.epochs = num("epochs", v.epochs, 1, { min: 0 });
  return o;
}

export async function main(argv: string[]): Promise<number> {
  let o: ParsedTrainArgs | null;
  try {
    o = parseTrainArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`train: ${e.message}\nRun npm run train -- --help for the flags.`);
      return 2;
    }
    throw e;
  }
  if (o === null) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    if (o.epochs !== undefined) {
      const { listImages } = await import("./tf/data.ts");
      const n = listImages(o.data).length;
      o.steps = Math.max(1, Math.ceil((o.epochs * n) / o.batch));
    }
    const r = await runTraining(o);
    console.log(`done: ${r.steps - r.startStep} steps in ${(r.secondsPerStep * (r.steps - r.startStep)).toFixed(0)} s; files: ${r.files.join(", ")}`);
    return 0;
  } catch (e) {
    if (e instanceof NoTrainingDataError) {
      console.error(`train: ${e.message}`);
      return 1;
    }
    // Expected failures read best as one line; DEBUG=1 shows where an unexpected one came from.
    console.error(`train: ${process.env.DEBUG ? (e as Error).stack : (e as Error).message}`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

function parseSchedule(v: string | undefined): LrSchedule {
  const s = v ?? "cosine";
  if (s !== "constant" && s !== "cosine") throw new UsageError(`--lr-schedule must be constant or cosine, got "${s}"`);
  return s;
}

function parseLossVariant(v: string | undefined): LossVariant {
  const s = v ?? "zero-dce";
  if (!(LOSS_VARIANTS as readonly string[]).includes(s)) throw new UsageError(`--losses must be one of ${LOSS_VARIANTS.join(", ")}, got "${s}"`);
  return s as LossVariant;
}
