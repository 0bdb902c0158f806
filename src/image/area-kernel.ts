/**
 * resize.ts's `areaDownscale` (the "area" filter: the estimation copy, the pipeline's pre-reduction of
 * large downscales, the deep-shadow pass's reduced output) with its loops in the pixel module
 * (assembly/pixels.ts, one instance per isolate: pixels.ts): the same bytes.
 * test/image/pixels-wasm.test.ts checks it.
 */
import { BAND_BYTES, instance, type KernelOptions } from "./pixels.ts";
import { areaDownscale, areaSpans, areaTaps } from "./resize.ts";
import type { RgbaImage } from "../shared/image.ts";

/**
 * Sources below this many pixels are reduced by `areaDownscale` itself (a few microseconds there,
 * about what resetting the instance after a larger job costs; WASM was faster from 64x48 up).
 */
export const AREA_WASM_MIN_PIXELS = 2048;

/**
 * Whether adding whole pixels (at most 255 each) one by one to `carry` = (a byte) * w1 rounds
 * nothing: w1 has m <= 44 fractional bits (so does every product with a byte, exactly) and the
 * largest partial sum stays below 2^(53 - m), where numbers with m fractional bits are exact.
 */
function exactCarry(w1: number, pixels: number): boolean {
  let t = w1, m = 0;
  while (t !== Math.floor(t)) {
    if (++m > 44) return false;
    t *= 2; // exact
  }
  return 255 * (pixels + 1) < 2 ** (53 - m);
}

/**
 * resize.ts's `areaDownscale` (the "area" filter: width <= img.width, height <= img.height) in
 * WASM: the same bytes. Anything else (enlarging, sizes that are not positive integers, small
 * sources) goes to `areaDownscale` itself.
 */
export function areaDownscaleWasm(img: RgbaImage, width: number, height: number, options: KernelOptions = {}): RgbaImage {
  const { width: W, height: H, data } = img;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > W || height > H ||
    W * H < (options.minPixels ?? AREA_WASM_MIN_PIXELS) || data.length !== W * H * 4
  ) {
    return areaDownscale(img, width, height);
  }
  const xs = areaSpans(W, width);
  const ys = areaTaps(H, height);
  const rowBytes = W * 4;
  const bandRows = Math.max(1, Math.min(H, Math.floor((options.bandBytes ?? BAND_BYTES) / rowBytes)));
  // Output rows a band finishes: up to the one its last source row starts in (then the rest).
  let outRows = 1;
  for (let y0 = 0, oy = 0; y0 < H; y0 += bandRows) {
    const t = ys.to[Math.min(H, y0 + bandRows) - 1]!;
    if (t > oy) {
      outRows = Math.max(outRows, t - oy);
      oy = t;
    }
    if (y0 + bandRows >= H) outRows = Math.max(outRows, height - oy);
  }
  const norm = 1 / ((W / width) * (H / height));
  const e = instance();
  const band = e.areaInit(W, H, width, height, bandRows, outRows, norm);
  const buf = e.memory.buffer; // the memory has all it needs now: no view below goes stale
  new Int32Array(buf, e.areaStart(), width).set(xs.start);
  new Int32Array(buf, e.areaEnd(), width).set(xs.end);
  new Float64Array(buf, e.areaSplit(), width).set(xs.split);
  const exact = new Int32Array(buf, e.areaExact(), width);
  for (let o = 0; o < width; o++) {
    // The carry into column o: the rest of o - 1's straddling pixel.
    const w0 = o > 0 ? xs.split[o - 1]! : 0;
    exact[o] = exactCarry(w0 > 0 ? 1 - w0 : 0, xs.end[o]! - xs.start[o]!) ? 1 : 0;
  }
  new Int32Array(buf, e.areaYTo(), H).set(ys.to);
  new Float64Array(buf, e.areaYW(), H).set(ys.w);
  const mem = new Uint8Array(buf, band, bandRows * rowBytes);
  const outRowBytes = width * 4;
  const res = new Uint8Array(width * height * 4);
  const done = new Uint8Array(buf, e.areaOut(), outRows * outRowBytes);
  let oy = 0;
  for (let y = 0; y < H; y += bandRows) {
    const n = Math.min(H, y + bandRows) - y;
    mem.set(data.subarray(y * rowBytes, (y + n) * rowBytes));
    const m = e.areaRun(y, y + n);
    if (m) res.set(done.subarray(0, m * outRowBytes), oy * outRowBytes);
    oy += m;
  }
  const m = e.areaFinish();
  res.set(done.subarray(0, m * outRowBytes), oy * outRowBytes);
  if (oy + m !== height) throw new Error(`area downscale wrote ${oy + m} of ${height} rows`);
  return { width, height, data: res };
}
