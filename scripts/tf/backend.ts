/**
 * Picks the TF.js backend for training/verification: tfjs-node-gpu or tfjs-node when the user has
 * installed one (optional: they download libtensorflow at install time, so they are never required),
 * else WASM (SIMD, single-threaded in Node, with forward-convolution gradients filling its gaps),
 * else the pure-JS CPU backend.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import { createRequire } from "node:module";
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

let wasmReady = false;
async function loadWasm(): Promise<boolean> {
  if (wasmReady) return true;
  try {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // In Node the .wasm files are read from the package's dist folder (a path, not a URL fetch).
    const dist = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
    wasm.setWasmPaths(dist);
    registerForwardConvGradients(["wasm"]);
    wasmReady = true;
    return true;
  } catch {
    return false;
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Selects and initialises a backend; returns its TF.js name ("tensorflow", "wasm" or "cpu").
 * `quiet` suppresses the line saying which one was chosen.
 */
export async function setupBackend(name: BackendChoice = "auto", quiet = false): Promise<string> {
  if (!BACKEND_CHOICES.includes(name)) {
    throw new Error(`unknown backend "${name}": use one of ${BACKEND_CHOICES.join(", ")}`);
  }
  const say = (msg: string) => {
    if (!quiet) console.log(msg);
  };
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
    if ((await loadWasm()) && (await activate("wasm"))) {
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      say(`backend: wasm (${simd ? "SIMD" : "no SIMD"}, single thread)`);
      return "wasm";
    }
    if (name === "wasm") throw new Error("backend wasm failed to initialise (@tensorflow/tfjs-backend-wasm)");
  }
  if (!(await activate("cpu"))) throw new Error("backend cpu failed to initialise");
  say("backend: cpu (pure JavaScript, slow)");
  return "cpu";
}
