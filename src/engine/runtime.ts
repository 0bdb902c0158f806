/**
 * The one owner of onnxruntime-web. One ORT instance per isolate/process: its WASM is initialised
 * once, each model's InferenceSession is created once (memoised), and runs are serialised through a
 * promise queue (the single-threaded WASM backend cannot overlap runs anyway; the queue keeps their
 * memory peaks from stacking up).
 *
 * workerd refuses to compile WebAssembly from bytes at run time and ORT 1.30 has no option that takes
 * a precompiled module, so we hand ORT a sentinel ArrayBuffer as `wasmBinary` and wrap
 * `WebAssembly.instantiate` so that the one call made with it instantiates the imported module
 * instead. Node takes the same path (its module compiled from node_modules), so the CLIs exercise the
 * Worker's code.
 */
import * as ort from "onnxruntime-web/wasm";
import { MODEL_INPUT, MODEL_OUTPUT } from "./model-info.ts";
import type { CurveMaps } from "../image/curves.ts";
import { findMemory, memoryBytes } from "../image/wasm-memory.ts";
import { serialQueue } from "../shared/queue.ts";

const SENTINEL = new ArrayBuffer(8);

let ortReady: WebAssembly.Module | undefined;
/** ORT's one WASM memory (the threaded build imports it), captured at instantiation. */
let ortMemory: WebAssembly.Memory | undefined;

/** Current byte size of onnxruntime-web's WASM memory (0 before the first session). */
export function runtimeMemory(): number {
  return memoryBytes(ortMemory);
}

function configureOrt(wasm: WebAssembly.Module): void {
  if (ortReady) {
    if (ortReady !== wasm) throw new Error("onnxruntime-web is already initialised with another WASM module");
    return;
  }
  ortReady = wasm;
  ort.env.wasm.numThreads = 1; // no threads in Workers
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = SENTINEL;
  ort.env.logLevel = "error";
}

/** Run `create` with WebAssembly.instantiate(sentinel bytes) redirected to the precompiled module. */
async function withSentinel<T>(wasm: WebAssembly.Module, create: () => Promise<T>): Promise<T> {
  const original = WebAssembly.instantiate;
  const patched = function (this: unknown, source: unknown, imports?: WebAssembly.Imports): Promise<unknown> {
    const buf = source instanceof ArrayBuffer ? source : ArrayBuffer.isView(source) ? source.buffer : undefined;
    if (buf === SENTINEL) {
      return original(wasm, imports).then((instance) => {
        ortMemory = findMemory(instance.exports, imports);
        return { instance, module: wasm };
      });
    }
    return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>).call(WebAssembly, source, imports);
  };
  WebAssembly.instantiate = patched as typeof WebAssembly.instantiate;
  try {
    return await create();
  } finally {
    WebAssembly.instantiate = original;
  }
}

/** Serialises every ORT call in this isolate. */
const serialised = serialQueue();

export interface ModelRunner {
  /** Curve maps for an image given as float32 NCHW [1, 3, height, width], RGB in [0, 1]. */
  run(input: Float32Array, width: number, height: number): Promise<CurveMaps>;
}

const sessions = new Map<Uint8Array, Promise<ModelRunner>>();

/** A memoised runner for `model` (the same bytes object gets the same session). */
export function loadModel(wasm: WebAssembly.Module, model: Uint8Array): Promise<ModelRunner> {
  let runner = sessions.get(model);
  if (!runner) {
    runner = serialised(() => createRunner(wasm, model));
    runner.catch(() => sessions.delete(model));
    sessions.set(model, runner);
  }
  return runner;
}

async function createRunner(wasm: WebAssembly.Module, model: Uint8Array): Promise<ModelRunner> {
  configureOrt(wasm);
  const session = await withSentinel(wasm, () =>
    ort.InferenceSession.create(model, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      // Input sizes vary per request: shape-specific memory patterns would only pile up.
      enableMemPattern: false,
    }),
  );
  if (!session.inputNames.includes(MODEL_INPUT) || !session.outputNames.includes(MODEL_OUTPUT)) {
    throw new Error(
      `model must have input "${MODEL_INPUT}" and output "${MODEL_OUTPUT}"; it has inputs ` +
        `[${session.inputNames.join(", ")}] and outputs [${session.outputNames.join(", ")}]`,
    );
  }
  const runOnce = (input: Float32Array, width: number, height: number): Promise<CurveMaps> =>
    serialised(async () => {
      const tensor = new ort.Tensor("float32", input, [1, 3, height, width]);
      let results: ort.InferenceSession.OnnxValueMapType | undefined;
      try {
        results = await session.run({ [MODEL_INPUT]: tensor }, [MODEL_OUTPUT]);
        const out = results[MODEL_OUTPUT]!;
        const [n, c, h, w] = out.dims;
        if (out.type !== "float32" || out.dims.length !== 4 || n !== 1 || h !== height || w !== width) {
          throw new Error(`model output "${MODEL_OUTPUT}" is ${out.type} [${out.dims.join(", ")}], expected float32 [1, C, ${height}, ${width}]`);
        }
        return { data: out.data as Float32Array, channels: c!, width, height };
      } finally {
        tensor.dispose();
        if (results) for (const v of Object.values(results)) v.dispose();
      }
    });
  return {
    run(input, width, height) {
      if (input.length !== 3 * width * height) throw new Error(`model input must be 3x${height}x${width} floats`);
      return width * height <= TILE * TILE ? runOnce(input, width, height) : runTiled(runOnce, input, width, height);
    },
  };
}

/**
 * Inputs above TILE x TILE pixels run in overlapping tiles, so ORT's WASM heap (which never shrinks)
 * stays at its single-tile size whatever the size of the input (about 0.75 KB per pixel run at once:
 * 28 MB at 128x128, 240 MB at 512x512 in one piece). Each tile carries HALO pixels of context on
 * every side; DCE-Net's seven stacked 3x3 convolutions see 7 pixels around an output pixel, so the
 * stitched maps equal a run on the whole input (zero padding only ever applies at the image's own
 * edges, as it would untiled).
 */
export const TILE = 128;
export const HALO = 8;

async function runTiled(
  runOnce: (input: Float32Array, width: number, height: number) => Promise<CurveMaps>,
  input: Float32Array,
  width: number,
  height: number,
): Promise<CurveMaps> {
  const core = TILE - 2 * HALO;
  const n = width * height;
  let out: Float32Array | undefined;
  let channels = 0;
  for (let ty = 0; ty < height; ty += core) {
    for (let tx = 0; tx < width; tx += core) {
      const x0 = Math.max(0, tx - HALO), x1 = Math.min(width, tx + core + HALO);
      const y0 = Math.max(0, ty - HALO), y1 = Math.min(height, ty + core + HALO);
      const tw = x1 - x0, th = y1 - y0;
      const tile = new Float32Array(3 * tw * th);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < th; y++) {
          const src = c * n + (y0 + y) * width + x0;
          tile.set(input.subarray(src, src + tw), (c * th + y) * tw);
        }
      }
      const maps = await runOnce(tile, tw, th);
      if (!out) {
        channels = maps.channels;
        out = new Float32Array(channels * n);
      }
      // Keep only the tile's core: [tx, tx+core) x [ty, ty+core), clipped to the image.
      const cw = Math.min(core, width - tx), chh = Math.min(core, height - ty);
      for (let c = 0; c < channels; c++) {
        for (let y = 0; y < chh; y++) {
          const src = (c * th + (ty - y0 + y)) * tw + (tx - x0);
          out.set(maps.data.subarray(src, src + cw), c * n + (ty + y) * width + tx);
        }
      }
    }
  }
  return { data: out!, channels, width, height };
}
