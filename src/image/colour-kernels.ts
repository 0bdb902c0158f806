/**
 * The chroma kernel of the pixel module (assembly/pixels.ts, one instance per isolate: pixels.ts):
 * `smoothChromaWasm` is within a level of chroma.ts's `smoothChroma` (its output pass is f32);
 * test/image/chroma.test.ts checks it. (The noise floor's kernel runs inside the curves pass:
 * `applyCurvesWasm`'s `floor` option.)
 */
import { CHROMA_DEFAULTS, runChroma, smoothChroma, type ChromaSettings } from "./chroma.ts";
import { taps } from "./denoise.ts";
import type { Gain } from "./gain.ts";
import { BAND_BYTES, instance, type KernelOptions } from "./pixels.ts";
import type { RgbaImage } from "../shared/image.ts";

// ---- chroma ----------------------------------------------------------------------------------

/** Images below this many pixels take chroma.ts's JS passes (the copies in and out weigh more there). */
export const CHROMA_WASM_MIN_PIXELS = 16 * 1024;

/**
 * chroma.ts's `smoothChroma` with its filter in WASM: the copy's block sums and the window
 * statistics (the same operations as the JS) and the output pass in f32 SIMD: within a level of
 * the JS on under 1% of bytes.
 */
export function smoothChromaWasm(img: RgbaImage, gain: Gain, amount: number, s: ChromaSettings = CHROMA_DEFAULTS, options: KernelOptions = {}): boolean {
  const { width: W, height: H, data } = img;
  const wasm = W * H >= (options.minPixels ?? CHROMA_WASM_MIN_PIXELS) && data.length === W * H * 4;
  return smoothChroma(img, gain, amount, s, wasm ? (i, f, w, h, eps, r) => runChromaWasm(i, f, w, h, eps, r, options) : runChroma);
}

function runChromaWasm(img: RgbaImage, f: number, w: number, h: number, eps: Float32Array, r: number, options: KernelOptions): void {
  const { width: W, height: H, data } = img;
  const rowBytes = W * 4;
  // Whole block rows per band, at least one.
  const bandRows = f * Math.max(1, Math.floor((options.bandBytes ?? BAND_BYTES) / (f * rowBytes)));
  const e = instance();
  const band = e.chromaInit(W, w, h, f, bandRows);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  // The copy: block rows of f image rows.
  for (let j = 0; j < h; j++) {
    const y0 = j * f, n = Math.min(H, y0 + f) - y0;
    mem.set(data.subarray(y0 * rowBytes, (y0 + n) * rowBytes));
    e.chromaSumRows(n);
    e.chromaBlockRow(j, n);
  }
  new Float32Array(buf, e.chromaEps(), w * h).set(eps);
  e.chromaCoefficients(r);
  const tx = taps(W, w, f);
  new Int32Array(buf, e.chromaLo(), W).set(tx.lo);
  new Int32Array(buf, e.chromaHi(), W).set(tx.hi);
  new Float32Array(buf, e.chromaFx(), W).set(tx.f);
  for (let y = 0; y < H; y += bandRows) {
    const rows = Math.min(H, y + bandRows) - y;
    const part = data.subarray(y * rowBytes, (y + rows) * rowBytes);
    mem.set(part);
    e.chromaApplyRows(y, rows);
    part.set(mem.subarray(0, rows * rowBytes));
  }
}
