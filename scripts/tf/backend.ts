/**
 * Picks the TF.js backend for training/verification: tfjs-node-gpu or tfjs-node when the user has
 * installed one (optional: they download libtensorflow at install time, so they are never required),
 * else WASM (SIMD, multi-threaded when asked, with forward-convolution gradients filling its gaps),
 * else the pure-JS CPU backend.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { registerForwardConvGradients } from "./conv-grads.ts";

export type BackendChoice = "auto" | "tensorflow" | "wasm" | "cpu";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "tensorflow", "wasm", "cpu"];

const require = createRequire(import.meta.url);

/** Loads tfjs-node-gpu or tfjs-node if installed; returns the package name, or null. */
async function loadNative(): Promise<string | null> {
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      // A variable specifier keeps bundlers and tsc from requiring the optional package.
      const spec: string = pkg;
      await import(spec);
      if (tf.findBackend("tensorflow")) return pkg;
    } catch {
      // not installed or its native library failed to load: try the next
    }
  }
  return null;
}

/** The most XNNPACK threads: the threaded build starts a pool of 8 workers and never uses more. */
export const MAX_WASM_THREADS = 8;

/** Threads for training by default: every core this process may use, up to the pool's 8. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(MAX_WASM_THREADS, os.availableParallelism()));
}

type EmscriptenModule = {
  cwrap: (name: string, ret: string | null, args: string[]) => (...a: number[]) => number;
  PThread: { unusedWorkers: Array<{ unref(): void }>; runningWorkers: Array<{ unref(): void }> };
  tfjs?: unknown;
};

/**
 * Replaces the "wasm" backend's factory with one that starts the package's threaded SIMD build in
 * Node. The package's own loader cannot: it hands Emscripten its worker and main script as blob:
 * URLs, which Node's worker_threads do not load. Here both are files (the worker source written once
 * to a temporary file, the main script read from the package), and the cwrap table is the one the
 * package's loader builds. Kernels stay registered under "wasm", so nothing else changes.
 */
function registerThreadedWasm(wasm: typeof import("@tensorflow/tfjs-backend-wasm"), threads: number): void {
  const root = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
  const mainScript = path.join(root, "wasm-out", "tfjs-backend-wasm-threaded-simd.js");
  const factory = require(mainScript) as (config: object) => Promise<EmscriptenModule>;
  const { wasmWorkerContents } = require(path.join(root, "wasm-out", "tfjs-backend-wasm-threaded-simd.worker.js")) as { wasmWorkerContents: string };
  const singleThreaded = tf.findBackendFactory("wasm");
  tf.removeBackend("wasm");
  tf.registerBackend(
    "wasm",
    async () => {
      try {
        return await startThreaded();
      } catch (e) {
        // Slower, not broken: the package's own single-threaded start.
        console.warn(`wasm backend: threads failed to start (${(e as Error).message}); using one thread`);
        return singleThreaded();
      }
    },
    2,
  );

  async function startThreaded() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tfjs-wasm-"));
    const workerFile = path.join(dir, "worker.cjs");
    // The package stores the worker as a template literal whose "\n" escapes became newlines;
    // its own loader restores them the same way before making the blob.
    fs.writeFileSync(workerFile, wasmWorkerContents.replace(/\n/g, "\\n"));
    // The backend caps its thread pool at half the logical cores (a guess at hyperthreading) that
    // Emscripten reads from os.cpus() while the module starts; report twice the asked-for threads
    // for that moment only, so the cap is the caller's choice.
    const realCpus = os.cpus;
    const cpus = realCpus();
    os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]!);
    let module: EmscriptenModule;
    try {
      module = await factory({
        locateFile: (file: string, prefix: string) =>
          file.endsWith(".worker.js") ? workerFile : file.endsWith(".wasm") ? path.join(root, "dist", "tfjs-backend-wasm-threaded-simd.wasm") : prefix + file,
        mainScriptUrlOrBlob: mainScript,
      });
    } finally {
      os.cpus = realCpus;
      // The pool's 8 workers have loaded the file by now (the module waits for them); no thread starts later.
      fs.rmSync(dir, { recursive: true, force: true });
    }
    module.tfjs = {
      init: module.cwrap("init", null, []),
      initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: module.cwrap("get_threads_count", "number", []),
      registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: module.cwrap("dispose_data", null, ["number"]),
      dispose: module.cwrap("dispose", null, []),
    };
    wasm.setThreadsCount(threads);
    const backend = new wasm.BackendWasm(module as unknown as ConstructorParameters<typeof wasm.BackendWasm>[0]);
    // The pool's threads wait on the main thread's work, which runs synchronously: they must not
    // keep the process alive once the main thread is done.
    for (const w of [...module.PThread.unusedWorkers, ...module.PThread.runningWorkers]) w.unref();
    return backend;
  }
}

let wasmLoaded = false;
async function loadWasm(threads: number): Promise<boolean> {
  if (wasmLoaded) return true;
  try {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // In Node the .wasm files are read from the package's dist folder (a path, not a URL fetch).
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
    wasm.setWasmPaths(dist);
    if (threads > 1 && typeof SharedArrayBuffer === "function") registerThreadedWasm(wasm, threads);
    registerForwardConvGradients(["wasm"]);
    wasmLoaded = true;
    return true;
  } catch {
    return false;
  }
}

/** Threads the wasm backend runs on (1 before it is set up or when another backend is used). */
export async function wasmThreadCount(): Promise<number> {
  if (tf.getBackend() !== "wasm") return 1;
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  return wasm.getThreadsCount();
}

async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

export interface BackendOptions {
  /** Gets the line saying which backend was chosen (default console.log; quiet: () => {}). */
  log?: (line: string) => void;
  /** Threads for the wasm backend, 1..8 (default 1); a process starts it once, so the first call's count holds. */
  threads?: number;
}

/** Selects and initialises a backend; returns its TF.js name ("tensorflow", "wasm" or "cpu"). */
export async function setupBackend(name: BackendChoice = "auto", options: BackendOptions = {}): Promise<string> {
  const { log: say = (line: string) => console.log(line), threads = 1 } = options;
  if (!BACKEND_CHOICES.includes(name)) {
    throw new Error(`unknown backend "${name}": use one of ${BACKEND_CHOICES.join(", ")}`);
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new Error(`threads must be a whole number from 1 to ${MAX_WASM_THREADS}, got ${threads}`);
  }
  if (name === "auto" || name === "tensorflow") {
    const pkg = await loadNative();
    if (pkg && (await activate("tensorflow"))) {
      say(`backend: tensorflow (${pkg})`);
      return "tensorflow";
    }
    if (name === "tensorflow") {
      throw new Error(
        "backend tensorflow needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu 4.22.0 installed (npm install them yourself; they download libtensorflow); or use --backend wasm|cpu",
      );
    }
  }
  if (name === "auto" || name === "wasm") {
    if ((await loadWasm(threads)) && (await activate("wasm"))) {
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      const n = await wasmThreadCount();
      say(`backend: wasm (${simd ? "SIMD" : "no SIMD"}, ${n === 1 ? "single thread" : `${n} threads`})`);
      return "wasm";
    }
    if (name === "wasm") throw new Error("backend wasm failed to initialise (@tensorflow/tfjs-backend-wasm)");
  }
  if (!(await activate("cpu"))) throw new Error("backend cpu failed to initialise");
  say("backend: cpu (pure JavaScript, slow)");
  return "cpu";
}
