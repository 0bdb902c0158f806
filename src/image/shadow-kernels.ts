/**
 * The deep-shadow kernel of the pixel module (assembly/pixels.ts, one instance per isolate:
 * pixels.ts): `cellPeaksWasm` gives shadows.ts's `cellPeaks` exactly, `smoothDeepShadowsWasm` is
 * within a level of its `smoothDeepShadows` (its blend is f32); test/image/shadows.test.ts checks them.
 */
import { taps } from "./denoise.ts";
import { BAND_BYTES, instance, type KernelOptions } from "./pixels.ts";
import { cellOf, cellPeaks, cellStarts, rowsWithWork, SHADOW_DEFAULTS, smoothDeepShadows, type CellPeaks, type ShadowLevels, type ShadowSettings, type ShadowTarget } from "./shadows.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Images below this many pixels take shadows.ts's JS blend. */
export const SHADOWS_WASM_MIN_PIXELS = 16 * 1024;

/** shadows.ts's `cellPeaks` in WASM: the same bytes. */
export function cellPeaksWasm(img: RgbaImage, cols: number, rows: number, options: KernelOptions = {}): CellPeaks {
  const { width: W, height: H, data } = img;
  if (W * H < (options.minPixels ?? SHADOWS_WASM_MIN_PIXELS) || data.length !== W * H * 4) return cellPeaks(img, cols, rows);
  const rowBytes = W * 4;
  const bandRows = Math.max(1, Math.min(H, Math.floor((options.bandBytes ?? BAND_BYTES) / rowBytes)));
  const e = instance();
  const band = e.peaksInit(W, H, cols, rows, bandRows);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Int32Array(buf, e.peaksXStart(), cols + 1).set(cellStarts(W, cols));
  new Int32Array(buf, e.peaksYCell(), H).set(cellOf(H, rows));
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  for (let y = 0; y < H; y += bandRows) {
    const n = Math.min(H, y + bandRows) - y;
    mem.set(data.subarray(y * rowBytes, (y + n) * rowBytes));
    e.peaksRun(y, n);
  }
  return { cols, rows, peak: new Uint8Array(buf, e.peaksOut(), cols * rows).slice() };
}

/** shadows.ts's `smoothDeepShadows` with its blend in WASM. */
export function smoothDeepShadowsWasm(
  img: RgbaImage, levels: ShadowLevels, reduced: RgbaImage, amount: number, s: ShadowSettings = SHADOW_DEFAULTS, options: KernelOptions = {},
): void {
  const { width: W, height: H, data } = img;
  const wasm = W * H >= (options.minPixels ?? SHADOWS_WASM_MIN_PIXELS) && data.length === W * H * 4;
  smoothDeepShadows(img, levels, reduced, amount, s, wasm ? (i, target) => blendWasm(i, target, options) : undefined);
}

function blendWasm(img: RgbaImage, target: ShadowTarget, options: KernelOptions): void {
  const { width: W, height: H, data } = img;
  const { cols: w, rows: h, cells } = target;
  const rowBytes = W * 4;
  const bandRows = Math.max(1, Math.min(H, Math.floor((options.bandBytes ?? BAND_BYTES) / rowBytes)));
  const tx = taps(W, w, W / w);
  const ty = taps(H, h, H / h);
  // Output columns in runs that interpolate between the same two cells.
  const start: number[] = [], a: number[] = [], b: number[] = [];
  for (let x = 0; x < W; x++) {
    if (x > 0 && tx.lo[x] === tx.lo[x - 1] && tx.hi[x] === tx.hi[x - 1]) continue;
    start.push(x);
    a.push(tx.lo[x]!);
    b.push(tx.hi[x]!);
  }
  start.push(W);
  const e = instance();
  const band = e.shadowsInit(W, H, w, h, a.length, bandRows);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Float32Array(buf, e.shadowsCells(), w * h * 4).set(cells);
  new Int32Array(buf, e.shadowsStart(), start.length).set(start);
  new Int32Array(buf, e.shadowsA(), a.length).set(a);
  new Int32Array(buf, e.shadowsB(), b.length).set(b);
  new Float32Array(buf, e.shadowsFx(), W).set(tx.f);
  new Int32Array(buf, e.shadowsTyLo(), H).set(ty.lo);
  new Int32Array(buf, e.shadowsTyHi(), H).set(ty.hi);
  new Float32Array(buf, e.shadowsTyF(), H).set(ty.f);
  // Bands whose rows all lie between cell rows of weight 0 are not copied through.
  const work = rowsWithWork(target);
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  for (let y = 0; y < H; y += bandRows) {
    const rows = Math.min(H, y + bandRows) - y;
    let any = false;
    for (let t = y; t < y + rows && !any; t++) any = work[ty.lo[t]!] === 1 || work[ty.hi[t]!] === 1;
    if (!any) continue;
    const part = data.subarray(y * rowBytes, (y + rows) * rowBytes);
    mem.set(part);
    e.shadowsRun(y, rows);
    part.set(mem.subarray(0, rows * rowBytes));
  }
}
