/**
 * The Worker's engine: WASM imported as precompiled modules (wrangler's CompiledWasm rule) and the
 * model as bytes (Data rule), built once per isolate on first use.
 */
// The wasm-bindgen packages ship a .wasm.d.ts describing the instance's exports, which TypeScript
// prefers to src/wasm-modules.d.ts; wrangler gives a WebAssembly.Module default export.
// @ts-expect-error -- see above
import pngWasmImport from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";
import webpDecWasm from "@jsquash/webp/codec/dec/webp_dec.wasm";
import webpEncWasm from "@jsquash/webp/codec/enc/webp_enc_simd.wasm";
import avifDecWasm from "@jsquash/avif/codec/dec/avif_dec.wasm";
import avifEncWasm from "@jsquash/avif/codec/enc/avif_enc.wasm";
// @ts-expect-error -- see above
import resizeWasmImport from "@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm";
import ortWasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm";
import modelBytes from "../../model/lowlight.onnx";
import pixelsWasm from "../image/pixels.wasm";
import jpegWasm from "../image/jpeg-turbo.wasm";
import webpScaledWasm from "../image/webp-dec.wasm";
import heifWasm from "libheif-js/libheif-wasm/libheif.wasm";
import { createEngine, type Engine } from "./engine.ts";

const pngWasm = pngWasmImport as WebAssembly.Module;
const resizeWasm = resizeWasmImport as WebAssembly.Module;

let engine: Promise<Engine> | undefined;

/** The isolate's engine (memoised; a failed start is retried on the next call). */
export function getEngine(): Promise<Engine> {
  engine ??= createEngine({
    codecs: { png: pngWasm, jpeg: jpegWasm, webpDec: webpDecWasm, webpScaled: webpScaledWasm, webpEnc: webpEncWasm, avifDec: avifDecWasm, avifEnc: avifEncWasm, resize: resizeWasm, heif: heifWasm },
    ortWasm,
    model: new Uint8Array(modelBytes),
    pixels: pixelsWasm,
  });
  engine.catch(() => (engine = undefined));
  return engine;
}
