/**
 * An engine: the codecs, the pixel kernels and the model, initialised once per isolate/process, and
 * the pipeline run on them one request at a time.
 */
import { modelInfoFromMetadata, type ModelInfo } from "./model-info.ts";
import { readOnnxMetadata } from "./onnx-metadata.ts";
import { loadModel, runtimeMemory } from "./runtime.ts";
import { runPipeline } from "./pipeline.ts";
import type { PipelineOptions, PipelineResult } from "./options.ts";
import { CODEC_NAMES, codecMemory, initCodecs, type CodecModules } from "../image/codecs.ts";
import { initPixels, pixelsMemory } from "../image/pixels.ts";
import { poolClock, recyclePools } from "../image/instance-pool.ts";
import { resizeMemory } from "../image/resize.ts";
import type { WasmMemoryReport } from "../image/wasm-memory.ts";
import { sha256Hex } from "../shared/hash.ts";
import { serialQueue } from "../shared/queue.ts";

export interface Engine {
  model: ModelInfo & { sha256: string };
  enhance(input: Uint8Array, opts: PipelineOptions): Promise<PipelineResult>;
  /** Byte size of every WASM memory of this isolate/process now (see src/image/wasm-memory.ts). */
  memory(): WasmMemoryReport;
}

/** What an engine is built from; the Worker imports these, the Node CLIs compile/read them. */
export interface EngineDeps {
  codecs: CodecModules;
  /** onnxruntime-web's ort-wasm-simd-threaded.wasm, precompiled. */
  ortWasm: WebAssembly.Module;
  /** The .onnx file; its metadata says how to use it. */
  model: Uint8Array<ArrayBuffer>;
  /** src/image/pixels.wasm (the curves and denoise kernels), precompiled. */
  pixels: WebAssembly.Module;
}

/** Build an engine: codecs initialised, ORT session created, model metadata read and hashed. */
export async function createEngine(deps: EngineDeps): Promise<Engine> {
  const info = modelInfoFromMetadata(readOnnxMetadata(deps.model));
  if (info.curveMaps !== 1 && info.curveMaps !== info.iterations) {
    throw new Error(`model has ${info.curveMaps} curve maps for ${info.iterations} iterations; expected 1 or ${info.iterations}`);
  }
  await initCodecs(deps.codecs);
  initPixels(deps.pixels);
  const runner = await loadModel(deps.ortWasm, deps.model);
  const model = { ...info, sha256: await sha256Hex(deps.model) };
  // One request's pipeline at a time per isolate: each holds a decoded image, and the CPU is
  // single-threaded anyway, so overlapping them only stacks memory.
  const serialised = serialQueue();
  const enhance = async (input: Uint8Array, opts: PipelineOptions): Promise<PipelineResult> => {
    const since = poolClock();
    try {
      return await runPipeline(runner, model, input, opts);
    } finally {
      // The request's decoded pixels are dead now (the result is an encoded copy).
      recyclePools(since);
    }
  };
  return { model, enhance: (input, opts) => serialised(() => enhance(input, opts)), memory: wasmMemory };
}

function wasmMemory(): WasmMemoryReport {
  const c = codecMemory();
  const r = resizeMemory();
  const ort = runtimeMemory();
  const px = pixelsMemory();
  return {
    ort,
    png: c.png,
    jpegDec: c.jpegDec,
    jpegEnc: c.jpegEnc,
    heifDec: c.heifDec,
    webpDec: c.webpDec,
    webpEnc: c.webpEnc,
    avifDec: c.avifDec,
    avifEnc: c.avifEnc,
    resize: r.bytes,
    pixels: px.bytes,
    total: ort + CODEC_NAMES.reduce((sum, n) => sum + c[n], 0) + r.bytes + px.bytes,
    peak: { ...c.peak, resize: r.peak, pixels: px.peak },
  };
}
