/**
 * Node side of the runtime: compile the same WASM files the Worker imports (from node_modules) and
 * build an Engine from a model file, so the CLIs run the Worker's pipeline code unchanged.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { initCodecs, type CodecModules } from "../../src/codecs.ts";

const require = createRequire(import.meta.url);

/** Absolute paths of the codec WASM files. */
export const CODEC_WASM = {
  png: require.resolve("@jsquash/png/codec/pkg/squoosh_png_bg.wasm"),
  jpegDec: require.resolve("@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm"),
  jpegEnc: require.resolve("@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm"),
  resize: require.resolve("@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm"),
} as const;

async function compile(path: string): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await readFile(path));
}

let codecs: Promise<void> | undefined;

/** Initialise jSquash decode/encode and resize in Node (memoised). Then use src/codecs.ts and src/resize.ts. */
export function initNodeCodecs(): Promise<void> {
  codecs ??= (async () => {
    const modules: CodecModules = {
      png: await compile(CODEC_WASM.png),
      jpegDec: await compile(CODEC_WASM.jpegDec),
      jpegEnc: await compile(CODEC_WASM.jpegEnc),
      resize: await compile(CODEC_WASM.resize),
    };
    await initCodecs(modules);
  })();
  return codecs;
}
