/**
 * npm run bench:train: seconds per training step of `npm run train` (scripts/tf/step.ts: forward,
 * the four losses, backward with the custom convolution gradients, clipping, Adam) for the full
 * DCE-Net and the lite net, beside the same step in PyTorch on the same machine when a Python with
 * torch is given (scripts/bench-train-torch.py, written after the original Zero-DCE training code).
 * Seeded random dark batches on both sides, so only the step is timed. Prints medians and the ratio.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { setupBackend, wasmThreadCount, defaultThreads, MAX_WASM_THREADS, BACKEND_CHOICES, type BackendChoice } from "./tf/backend.ts";
import { createModel } from "./tf/model.ts";
import { createOptimizer, trainStep } from "./tf/step.ts";
import { defaultLossWeights, DEFAULT_PATCH } from "./tf/losses.ts";
import { MAX_PIXELS_PER_PASS } from "./tf/trainer.ts";
import { mulberry32 } from "../src/shared/rng.ts";
import type { Arch } from "./lib/network.ts";
import { parseCli, positiveInt, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run bench:train -- [--archs dce,lite] [--size 128] [--batch 8] [--steps 10] [--warmup 2]
                             [--backend auto|wasm|cpu|tensorflow] [--threads N] [--python PATH] [--torch-threads 1,2]

  --threads N          TF.js wasm backend threads, 1-${MAX_WASM_THREADS} (default: the cores available, here ${defaultThreads()})

  --python PATH        a Python with torch (Debian: apt install python3-torch, then /usr/bin/python3):
                       also times the same step in PyTorch, once per --torch-threads count
  --torch-threads N,M  PyTorch thread counts to time (default 1,2)`;

const fail: Fail = usageError("bench:train");
const { values } = parseCli("bench:train", HELP, {
  options: {
    archs: { type: "string", default: "dce,lite" },
    size: { type: "string", default: "128" },
    batch: { type: "string", default: "8" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    backend: { type: "string", default: "auto" },
    threads: { type: "string" },
    python: { type: "string" },
    "torch-threads": { type: "string", default: "1,2" },
    help: { type: "boolean", short: "h" },
  },
});
const archs = values.archs.split(",").map((a) => (a === "dce" || a === "lite" ? (a as Arch) : fail(`--archs takes dce and/or lite, got "${a}"`)));
const size = positiveInt(values.size, "--size", fail)!;
const batch = positiveInt(values.batch, "--batch", fail)!;
const steps = positiveInt(values.steps, "--steps", fail)!;
const warmup = Number(values.warmup);
if (!Number.isInteger(warmup) || warmup < 0) fail(`--warmup must be a whole number >= 0, got "${values.warmup}"`);
if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) fail(`--backend must be one of ${BACKEND_CHOICES.join(", ")}`);
const threads = values.threads === undefined ? defaultThreads() : positiveInt(values.threads, "--threads", fail)!;
if (threads > MAX_WASM_THREADS) fail(`--threads must be from 1 to ${MAX_WASM_THREADS}, got ${threads}`);
const torchThreads = values["torch-threads"].split(",").map((t) => positiveInt(t, "--torch-threads", fail)!);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const backend = await setupBackend(values.backend as BackendChoice, { threads });
const tfThreads = await wasmThreadCount();
const rand = mulberry32(1);
const results: Array<{ arch: Arch; side: string; params: number; seconds: number[] }> = [];
for (const arch of archs) {
  const model = createModel(arch, undefined, 1);
  const optimizer = createOptimizer(1e-3);
  const micro = Math.max(1, Math.min(batch, Math.floor(MAX_PIXELS_PER_PASS / (size * size))));
  const opts = { loss: { weights: defaultLossWeights(arch), exposure: 0.6, patch: DEFAULT_PATCH }, clip: 0.1, weightDecay: 1e-4, microBatch: micro };
  const seconds: number[] = [];
  for (let s = 0; s < warmup + steps; s++) {
    const data = new Float32Array(batch * size * size * 3);
    for (let i = 0; i < data.length; i++) data[i] = 0.3 * rand();
    const x = tf.tensor4d(data, [batch, size, size, 3]);
    const t = performance.now();
    trainStep(model, optimizer, x, opts);
    const dt = (performance.now() - t) / 1000;
    x.dispose();
    if (s >= warmup) seconds.push(dt);
    process.stdout.write(`\r${arch}: step ${s + 1}/${warmup + steps} ${dt.toFixed(2)} s   `);
  }
  process.stdout.write("\n");
  const params = model.variables.reduce((a, v) => a + v.size, 0);
  results.push({ arch, side: `TF.js ${tf.version_core} (${backend}, ${tfThreads} thread${tfThreads > 1 ? "s" : ""})`, params, seconds });
  optimizer.dispose();
  model.dispose();
}

if (values.python) {
  const script = fileURLToPath(new URL("./bench-train-torch.py", import.meta.url));
  for (const threads of torchThreads) {
    const args = [script, "--archs", archs.join(","), "--size", String(size), "--batch", String(batch), "--steps", String(steps), "--warmup", String(warmup), "--threads", String(threads)];
    const { stdout } = await promisify(execFile)(values.python, args, { maxBuffer: 1 << 20 }).catch((e: Error) => fail(`${values.python} ${script} failed: ${e.message}`));
    for (const line of stdout.trim().split("\n")) {
      const r = JSON.parse(line) as { arch: Arch; params: number; threads: number; torch: string; seconds: number[] };
      results.push({ arch: r.arch, side: `PyTorch ${r.torch} (CPU, ${r.threads} thread${r.threads > 1 ? "s" : ""})`, params: r.params, seconds: r.seconds });
    }
  }
}

console.log(`\nSeconds per training step, ${size}x${size}, batch ${batch}: median of ${steps} after ${warmup} warm-up (same machine, one run)`);
const rows = results.map((r) => {
  const tfjs = results.find((x) => x.arch === r.arch && x.side.startsWith("TF.js"))!;
  const ratio = median(tfjs.seconds) / median(r.seconds);
  return `| ${r.arch} | ${r.params.toLocaleString("en")} | ${r.side} | ${median(r.seconds).toFixed(3)} | ${Math.min(...r.seconds).toFixed(3)} | ${r === tfjs ? "1" : ratio.toFixed(2)} |`;
});
console.log(["| net | params | implementation | s/step (median) | fastest | TF.js / this |", "|---|---|---|---|---|---|", ...rows].join("\n"));
