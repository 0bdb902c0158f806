/**
 * Node side of the runtime: compile the same WASM files the Worker imports (from node_modules) and
 * build an Engine from a model file, so the CLIs run the Worker's pipeline code unchanged.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { initCodecs, type CodecModules } from "../../src/image/codecs.ts";
import { createEngine, type Engine } from "../../src/engine/engine.ts";

const require = createRequire(import.meta.url);

/** Absolute paths of the codec WASM files. */
export const CODEC_WASM = {
  png: require.resolve("@jsquash/png/codec/pkg/squoosh_png_bg.wasm"),
  jpeg: fileURLToPath(new URL("../../src/image/jpeg-turbo.wasm", import.meta.url)),
  webpDec: require.resolve("@jsquash/webp/codec/dec/webp_dec.wasm"),
  webpScaled: fileURLToPath(new URL("../../src/image/webp-dec.wasm", import.meta.url)),
  webpEnc: require.resolve("@jsquash/webp/codec/enc/webp_enc_simd.wasm"),
  avifDec: require.resolve("@jsquash/avif/codec/dec/avif_dec.wasm"),
  avifEnc: require.resolve("@jsquash/avif/codec/enc/avif_enc.wasm"),
  resize: require.resolve("@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm"),
  heif: require.resolve("libheif-js/libheif-wasm/libheif.wasm"),
} as const;

async function compile(path: string): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await readFile(path));
}

let modules: Promise<CodecModules> | undefined;

function codecModules(): Promise<CodecModules> {
  modules ??= (async () => {
    const entries = await Promise.all(Object.entries(CODEC_WASM).map(async ([name, path]) => [name, await compile(path)] as const));
    return Object.fromEntries(entries) as unknown as CodecModules;
  })();
  return modules;
}

/** Initialise jSquash decode/encode and resize in Node (memoised). Then use src/image/codecs.ts and src/image/resize.ts. */
export async function initNodeCodecs(): Promise<void> {
  await initCodecs(await codecModules());
}

/** onnxruntime-web's WASM binary (the one file the Worker imports too). */
export const ORT_WASM = require.resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm");

let ortWasm: Promise<WebAssembly.Module> | undefined;

/** onnxruntime-web's module compiled once per process (ORT accepts only one). */
export function ortModule(): Promise<WebAssembly.Module> {
  ortWasm ??= compile(ORT_WASM);
  return ortWasm;
}

/** src/image/pixels.wasm: the curves and denoise kernels (built by npm run build:wasm, committed). */
export const PIXELS_WASM = fileURLToPath(new URL("../../src/image/pixels.wasm", import.meta.url));

let pixelsWasm: Promise<WebAssembly.Module> | undefined;

/** The pixel kernels' module compiled once per process. */
export function pixelsModule(): Promise<WebAssembly.Module> {
  pixelsWasm ??= compile(PIXELS_WASM);
  return pixelsWasm;
}

/** Default model path: the deployed model, relative to the repository root. */
export const DEFAULT_MODEL = fileURLToPath(new URL("../../model/lowlight.onnx", import.meta.url));

/** An Engine for the model file at `modelPath`, running the Worker's pipeline code in Node. */
export async function createNodeEngine(modelPath: string = DEFAULT_MODEL): Promise<Engine> {
  await initNodeCodecs();
  const bytes = await readFile(modelPath);
  const model = new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return createEngine({ codecs: await codecModules(), ortWasm: await ortModule(), model, pixels: await pixelsModule() });
}
