/**
 * Light-enhancement curves (Zero-DCE): x <- x + r_i * (x^2 - x), applied `iterations` times per pixel
 * and channel, with r_i read from curve maps that may be smaller than the image (estimated on a
 * downscaled copy). The maps are upsampled bilinearly with align_corners=true (Zero-DCE++'s
 * UpsamplingBilinear2d) on the fly, one output row at a time: full-size maps would be 24 floats per
 * pixel (>1 GB at 12 MP).
 */
import type { RgbaImage } from "../shared/image.ts";

/** Model output for one image: float32 [channels, height, width], channels = 3 * curveMaps. */
export interface CurveMaps {
  data: Float32Array;
  channels: number;
  width: number;
  height: number;
}

/** Source coordinate (align_corners=true) of output index i: lower tap, upper tap, weight of upper. */
function axisTaps(outSize: number, inSize: number): { lo: Int32Array; hi: Int32Array; f: Float64Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  for (let i = 0; i < outSize; i++) {
    const u = i * scale;
    const l = Math.min(Math.floor(u), inSize - 1);
    lo[i] = l;
    hi[i] = Math.min(l + 1, inSize - 1);
    f[i] = u - l;
  }
  return { lo, hi, f };
}

/**
 * Apply the curves to `img` (RGB; alpha untouched), writing into `out` (default: in place).
 * `strength` 0..1 scales every r (0 = identity, 1 = the model's curves); 1..2 goes on past the model's
 * curves towards the strongest brightening one (see `strengthAffine`). Maps with 3 channels (lite,
 * Zero-DCE++) are reused for every iteration (through a lookup table unless `method` is "exact";
 * within one 8-bit level of it); 3 * iterations channels give one map per iteration.
 */
export function applyCurves(
  img: RgbaImage,
  maps: CurveMaps,
  iterations: number,
  strength: number,
  out: Uint8Array = img.data,
  method: "auto" | "exact" = "auto",
): RgbaImage {
  const { width: W, height: H } = img;
  const { width: cw, height: ch, channels: C, data: m } = maps;
  if (C !== 3 && C !== 3 * iterations) {
    throw new Error(`curve maps have ${C} channels; expected 3 or 3 x ${iterations} iterations`);
  }
  if (m.length !== C * cw * ch) throw new Error(`curve maps hold ${m.length} values, expected ${C}x${ch}x${cw}`);
  if (out.length !== W * H * 4) throw new Error("output buffer does not match the image size");
  if (!(strength >= 0 && strength <= MAX_STRENGTH)) throw new Error(`strength must be in 0..${MAX_STRENGTH}, got ${strength}`);
  const { scale, offset } = strengthAffine(strength);
  const xs = axisTaps(W, cw);
  const ys = axisTaps(H, ch);
  // One shared map: the result depends only on (input byte, r), so look it up in a table instead of
  // iterating per pixel. Maps from a tanh are in [-1, 1]; anything else goes the exact way.
  if (C === 3 && method === "auto" && inUnitRange(m)) {
    // The table is for strength 1 (built once per isolate): strength maps r affinely, and so the
    // positions in it (per-request strengths from "auto" would otherwise cost a 3 ms table each).
    applyTable(img, maps, xs, ys, curveTable(iterations, 1), out, scale, offset);
  } else applyExact(img, maps, xs, ys, iterations, scale, offset, out);
  return { width: W, height: H, data: out };
}

type Taps = ReturnType<typeof axisTaps>;

/** Vertically interpolate all channels of the maps for one output row into `row` ([C][cw]), as r * scale + offset. */
function mapRow(maps: CurveMaps, ys: Taps, y: number, row: Float64Array, scale: number, offset: number): void {
  const { width: cw, height: ch, channels: C, data: m } = maps;
  const y0 = ys.lo[y]! * cw;
  const y1 = ys.hi[y]! * cw;
  const fy = ys.f[y]!;
  for (let c = 0; c < C; c++) {
    const base = c * cw * ch;
    const rb = c * cw;
    for (let x = 0; x < cw; x++) {
      const a = m[base + y0 + x]!;
      row[rb + x] = (a + (m[base + y1 + x]! - a) * fy) * scale + offset;
    }
  }
}

// Twin on purpose: assembly/pixels.ts ports this loop (served path, applyCurvesWasm in pixels.ts);
// this one stays as the tested reference (test/image/pixels-wasm.test.ts compares them).
function applyTable(img: RgbaImage, maps: CurveMaps, xs: Taps, ys: Taps, lut: Float32Array, out: Uint8Array, scale: number, offset: number): void {
  const { width: W, height: H, data: src } = img;
  const cw = maps.width;
  // The row holds table positions, (scale * r + offset + 1) * LUT_HALF, so a pixel needs one lerp to find its row.
  const row = new Float64Array(3 * cw);
  const last = LUT_STEPS - 1;
  // Between two map columns the positions are linear in x: walk each span adding a per-pixel step
  // instead of interpolating every pixel from its taps (the hot loop is a third cheaper).
  const spans = spanStarts(xs, W);
  for (let y = 0; y < H; y++) {
    mapRow(maps, ys, y, row, scale * LUT_HALF, (offset + 1) * LUT_HALF);
    let p = y * W * 4;
    for (let j = 0; j < spans.length - 1; j++) {
      const x0 = spans[j]!;
      const x1 = spans[j + 1]!;
      if (x0 === x1) continue;
      const lo = xs.lo[x0]!;
      const hi = xs.hi[x0]!;
      const f0 = xs.f[x0]!;
      // f rises by the same amount per pixel within a span (align_corners=true sampling).
      const df = x1 - x0 > 1 ? (xs.f[x0 + 1]! - f0) : 0;
      const dr = row[hi]! - row[lo]!;
      const dg = row[cw + hi]! - row[cw + lo]!;
      const db = row[2 * cw + hi]! - row[2 * cw + lo]!;
      let pr = row[lo]! + dr * f0;
      let pg = row[cw + lo]! + dg * f0;
      let pb = row[2 * cw + lo]! + db * f0;
      const sr = dr * df, sg = dg * df, sb = db * df;
      for (let x = x0; x < x1; x++, p += 4) {
        let i = pr >= last ? last : pr | 0;
        let t = (i << 8) + src[p]!;
        let v = lut[t]!;
        out[p] = (v + (lut[t + 256]! - v) * (pr - i) + 0.5) | 0;
        i = pg >= last ? last : pg | 0;
        t = (i << 8) + src[p + 1]!;
        v = lut[t]!;
        out[p + 1] = (v + (lut[t + 256]! - v) * (pg - i) + 0.5) | 0;
        i = pb >= last ? last : pb | 0;
        t = (i << 8) + src[p + 2]!;
        v = lut[t]!;
        out[p + 2] = (v + (lut[t + 256]! - v) * (pb - i) + 0.5) | 0;
        out[p + 3] = src[p + 3]!;
        pr += sr;
        pg += sg;
        pb += sb;
      }
    }
  }
}

/** Output x where each run of equal lower taps starts, plus W at the end. */
function spanStarts(xs: Taps, W: number): Int32Array {
  const starts: number[] = [];
  for (let x = 0; x < W; x++) if (x === 0 || xs.lo[x] !== xs.lo[x - 1]) starts.push(x);
  starts.push(W);
  return Int32Array.from(starts);
}

function applyExact(img: RgbaImage, maps: CurveMaps, xs: Taps, ys: Taps, iterations: number, scale: number, offset: number, out: Uint8Array): void {
  const { width: W, height: H, data: src } = img;
  const { width: cw, channels: C } = maps;
  const row = new Float64Array(C * cw);
  const shared = C === 3; // one map reused by every iteration
  for (let y = 0; y < H; y++) {
    mapRow(maps, ys, y, row, scale, offset);
    let p = y * W * 4;
    for (let x = 0; x < W; x++, p += 4) {
      const x0 = xs.lo[x]!;
      const x1 = xs.hi[x]!;
      const fx = xs.f[x]!;
      for (let k = 0; k < 3; k++) {
        let v = src[p + k]! / 255;
        // Iteration i uses channel 3i + k (or k for a shared map).
        for (let it = 0, rb = k * cw; it < iterations; it++) {
          const a = row[rb + x0]!;
          const r = a + (row[rb + x1]! - a) * fx;
          v = v + r * (v * v - v);
          if (!shared) rb += 3 * cw;
        }
        out[p + k] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
      }
      out[p + 3] = src[p + 3]!;
    }
  }
}

/** Highest strength: the strongest brightening curve (r = -1 everywhere). */
export const MAX_STRENGTH = 2;

/**
 * r' = scale * r + offset for a strength. Up to 1 it scales r (the model's curves, fainter). Past 1,
 * by t = strength - 1, it blends r towards -1, the strongest brightening curve, r' = (1 - t) r - t:
 * every pixel gets brighter, in the order the model ranked them, and r stays in [-1, 1], so the
 * curves stay monotonic and in range (scaling r past 1 instead would fold bright values back down).
 */
export function strengthAffine(strength: number): { scale: number; offset: number } {
  if (strength <= 1) return { scale: strength, offset: 0 };
  const t = Math.min(1, strength - 1);
  return { scale: 1 - t, offset: -t };
}

/** Intervals the table splits r in [-1, 1] into; linear interpolation between them is exact to ~1e-3 levels. */
export const LUT_STEPS = 1024;
const LUT_HALF = LUT_STEPS / 2;
let lutCache: { iterations: number; strength: number; table: Float32Array } | undefined;

/**
 * table[i * 256 + v] = 255 * curve(v / 255) after `iterations` steps with r = strength * (i / LUT_HALF - 1),
 * clamped to [0, 255]. Memoised for the last (iterations, strength): 1 MB, ~3 ms to build.
 */
export function curveTable(iterations: number, strength: number): Float32Array {
  if (lutCache && lutCache.iterations === iterations && lutCache.strength === strength) return lutCache.table;
  const table = new Float32Array((LUT_STEPS + 1) * 256);
  for (let i = 0; i <= LUT_STEPS; i++) {
    const r = strength * (i / LUT_HALF - 1);
    for (let v = 0; v < 256; v++) {
      let x = v / 255;
      for (let it = 0; it < iterations; it++) x = x + r * (x * x - x);
      table[i * 256 + v] = x <= 0 ? 0 : x >= 1 ? 255 : x * 255;
    }
  }
  lutCache = { iterations, strength, table };
  return table;
}

function inUnitRange(m: Float32Array): boolean {
  for (let i = 0; i < m.length; i++) if (!(m[i]! >= -1 && m[i]! <= 1)) return false;
  return true;
}
