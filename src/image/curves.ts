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

/** Mean R, G and B (0-1) over the pixels `mask` marks (default all); zeros when it marks none. */
function channelMeans(img: RgbaImage, mask?: Uint8Array): [number, number, number] {
  const d = img.data;
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  for (let i = 0, p = 0; i < d.length; i += 4, p++) {
    if (mask && !mask[p]) continue;
    r += d[i]!;
    g += d[i + 1]!;
    b += d[i + 2]!;
    n++;
  }
  return n ? [r / n / 255, g / n / 255, b / n / 255] : [0, 0, 0];
}

/** Rec. 709 luma of RGB values in [0, 1]. */
const luma709 = (r: number, g: number, b: number): number => 0.2126 * r + 0.7152 * g + 0.0722 * b;

/** Mean Rec. 709 luma of the RGB values (sRGB-encoded, in [0,1]), over the pixels `mask` marks (default all). */
export function meanLuma(img: RgbaImage, mask?: Uint8Array): number {
  return luma709(...channelMeans(img, mask));
}

/** Rec. 709 luma of every pixel, 0-255 (rounded). */
function lumaBytes(img: RgbaImage): Uint8Array {
  const d = img.data;
  const out = new Uint8Array(d.length / 4);
  for (let i = 0, p = 0; i < d.length; i += 4, p++) out[p] = Math.round(0.2126 * d[i]! + 0.7152 * d[i + 1]! + 0.0722 * d[i + 2]!);
  return out;
}

/**
 * Luma (0-255) at or below which a pixel counts as empty background: a product shot's or logo's black
 * canvas, letterboxing. Such pixels carry no exposure (the curves map black to black), and counting
 * them made a well-exposed subject on black read as a dark photo. A genuinely dark scene keeps its
 * texture above this level on the probe (LOL's darkest images average luma 5-15), so it still reads dark.
 */
export const EMPTY_LUMA = 2;
/** Below this share of content pixels the image is judged whole (an almost black frame). */
export const MIN_CONTENT_SHARE = 0.01;

/**
 * 1 where a pixel is content, 0 where it is empty background (see EMPTY_LUMA) or borders it: on a
 * small probe a subject's edge pixels are blends of subject and black, which read darker than the
 * subject is. Falls back to all non-empty pixels when that interior is under MIN_CONTENT_SHARE (thin
 * line art), and to the whole image when they are too.
 */
export function contentMask(img: RgbaImage): Uint8Array {
  const { width: W, height: H } = img;
  const l = lumaBytes(img);
  const mask = new Uint8Array(W * H);
  let content = 0;
  let interior = 0;
  for (let p = 0; p < l.length; p++) if (l[p]! > EMPTY_LUMA) content++;
  if (content < MIN_CONTENT_SHARE * W * H) return mask.fill(1);
  if (content === W * H) return mask.fill(1);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (l[y * W + x]! <= EMPTY_LUMA) continue;
      let inside = true;
      for (let dy = -1; dy <= 1 && inside; dy++) {
        const yy = Math.min(H - 1, Math.max(0, y + dy));
        for (let dx = -1; dx <= 1; dx++) {
          const xx = Math.min(W - 1, Math.max(0, x + dx));
          if (l[yy * W + xx]! <= EMPTY_LUMA) {
            inside = false;
            break;
          }
        }
      }
      if (inside) {
        mask[y * W + x] = 1;
        interior++;
      }
    }
  }
  if (interior < MIN_CONTENT_SHARE * W * H) for (let p = 0; p < l.length; p++) mask[p] = l[p]! > EMPTY_LUMA ? 1 : 0;
  return mask;
}

/**
 * How exposed an image's content looks, in [0, 1]: the mean of its mean luma and its 90th-percentile
 * luma, over content pixels only (`contentMask`). The mean alone mistakes a well-exposed photo with a
 * dark background (a portrait on black, a night sky with a lit subject) for a dark one; the 90th
 * percentile sees the well-lit part, and the mean still catches a dark scene with a few bright lamps
 * in it. Leaving empty black canvas out keeps a small subject on a large black background from being
 * read as darkness.
 */
export function exposureScore(img: RgbaImage, mask: Uint8Array = contentMask(img)): number {
  const l = lumaBytes(img);
  const hist = new Uint32Array(256);
  let sum = 0;
  let n = 0;
  for (let p = 0; p < l.length; p++) {
    if (!mask[p]) continue;
    hist[l[p]!]!++;
    sum += l[p]!;
    n++;
  }
  if (n === 0) return 0;
  let acc = 0;
  let p90 = 255;
  for (let v = 0; v < 256; v++) {
    acc += hist[v]!;
    if (acc >= 0.9 * n) {
      p90 = v;
      break;
    }
  }
  return (sum / n + p90) / 2 / 255;
}

/**
 * Highest content brightness (`contentBrightness`: mean luma or mean RGB, whichever is higher)
 * `strength=auto` brightens to. The network is trained towards a uniform
 * exposure (0.6 per patch), which on a night photo means daylight; a photographer's auto leaves a night
 * a well-lit night. 0.5 cost LOL 1 dB (its references reach 0.6 on the darkest rooms), so the cap sits at 0.6.
 */
export const AUTO_MAX_MEAN = 0.6;

/**
 * How bright the content reads for the `auto` cap: the larger of its mean Rec. 709 luma and its mean
 * RGB value. The two differ on strongly coloured light (sodium orange, magenta LEDs: little green,
 * so luma reads darker than the channels are); capping luma alone let such a photo end at a mean
 * RGB of 0.67 under a 0.6 cap.
 */
export function contentBrightness(img: RgbaImage, mask?: Uint8Array): number {
  const [r, g, b] = channelMeans(img, mask);
  return Math.max(luma709(r, g, b), (r + g + b) / 3);
}

/**
 * `strength=auto`, second half: the largest strength up to `strength` whose result on `probe` (a small
 * copy; the maps are resampled to it) keeps the content's brightness (`contentBrightness`) at or below
 * `maxMean`. The brightness grows with the strength, so a bisection of a few steps on a 64 px copy finds it.
 */
export function capStrength(probe: RgbaImage, maps: CurveMaps, iterations: number, strength: number, maxMean = AUTO_MAX_MEAN, mask: Uint8Array = contentMask(probe)): number {
  return capWith(brightnessAt(probe, maps, iterations, mask), () => contentBrightness(probe, mask), strength, maxMean);
}

/** capStrength on a given brightness-at-strength function; `before` is the content's brightness untouched. */
function capWith(meanAt: (s: number) => number, before: () => number, strength: number, maxMean: number): number {
  if (strength <= 0) return strength;
  if (meanAt(strength) <= maxMean) return strength;
  if (before() >= maxMean) return 0;
  const { lo } = bisect(0, strength, (s) => meanAt(s) > maxMean);
  // Two decimals, as a client could ask for it (X-Enhance-Strength), rounded down to stay under the cap.
  return Math.floor(lo * 100) / 100;
}

/**
 * Content brightness of `probe` after the curves at a strength (one output buffer, reused; each
 * strength curved once, so the cap and the lift share their probe passes).
 */
function brightnessAt(probe: RgbaImage, maps: CurveMaps, iterations: number, mask: Uint8Array): (strength: number) => number {
  const out = new Uint8Array(probe.data.length);
  const seen = new Map<number, number>();
  return (s) => {
    let v = seen.get(s);
    if (v === undefined) seen.set(s, (v = contentBrightness(applyCurves(probe, maps, iterations, s, out), mask)));
    return v;
  };
}

/** Ten bisection steps on [lo, hi] for where `above` turns true (false at lo, true at hi); the final bracket. */
function bisect(lo: number, hi: number, above: (s: number) => boolean): { lo: number; hi: number } {
  for (let i = 0; i < 10; i++) {
    const mid = (lo + hi) / 2;
    if (above(mid)) hi = mid;
    else lo = mid;
  }
  return { lo, hi };
}

/**
 * Lowest content brightness (`contentBrightness`, on the probe) `strength=auto` lifts a dark photo to,
 * where the model's full curves leave it darker: the low end of a well-lit night. The network's
 * exposure target is one number for every photo, and on very dark inputs (a phone at night, LOL's
 * darkest rooms) its curves stop short of it; a photographer's auto still brings the night up to a
 * readable level. It sits above the 0.40 it aims at because the probe reads bright: the curves are
 * concave, so curving a probe pixel (a block's mean) gives more than the mean of its curved noisy
 * pixels, by 0.02-0.04 on phone night shots (0.42 on the probe left them at 0.38-0.39 in full).
 */
export const AUTO_MIN_MEAN = 0.45;

/** The most `strength=auto` goes past the model's curves (see `strengthAffine`) to reach AUTO_MIN_MEAN. */
export const AUTO_MAX_LIFT = 1.5;

/**
 * `strength=auto`, last step: when the model's full curves (strength 1) leave the content of
 * `probe` below `minMean`, the smallest strength in (1, maxStrength] that reaches it (or maxStrength);
 * otherwise `strength` unchanged. Only strength 1 is lifted: a lower one was chosen on purpose (a
 * half-dark photo, or the cap).
 */
export function liftStrength(probe: RgbaImage, maps: CurveMaps, iterations: number, strength: number, minMean = AUTO_MIN_MEAN, maxStrength = AUTO_MAX_LIFT, mask: Uint8Array = contentMask(probe)): number {
  return liftWith(brightnessAt(probe, maps, iterations, mask), strength, minMean, maxStrength);
}

/** liftStrength on a given brightness-at-strength function. */
function liftWith(meanAt: (s: number) => number, strength: number, minMean: number, maxStrength: number): number {
  if (strength !== 1 || maxStrength <= 1) return strength;
  if (meanAt(1) >= minMean) return 1;
  if (meanAt(maxStrength) <= minMean) return maxStrength;
  const { hi } = bisect(1, maxStrength, (s) => meanAt(s) >= minMean);
  // Two decimals (X-Enhance-Strength), rounded up to reach the floor.
  return Math.min(maxStrength, Math.ceil(hi * 100 - 1e-9) / 100);
}

/** The bounds `strength=auto` keeps a photo's content in once the model has run (defaults: the served ones). */
export interface AutoBounds {
  /** capStrength's ceiling (AUTO_MAX_MEAN). */
  maxMean?: number;
  /** liftStrength's floor (AUTO_MIN_MEAN). */
  minMean?: number;
  /** liftStrength's highest strength (AUTO_MAX_LIFT). */
  maxLift?: number;
}

/**
 * `strength=auto` after the model: capStrength, then liftStrength, on one set of probe passes (the
 * strength both read, 1 when the cap leaves it, is curved once).
 */
export function boundStrength(probe: RgbaImage, maps: CurveMaps, iterations: number, strength: number, bounds: AutoBounds = {}, mask: Uint8Array = contentMask(probe)): number {
  const meanAt = brightnessAt(probe, maps, iterations, mask);
  const capped = capWith(meanAt, () => contentBrightness(probe, mask), strength, bounds.maxMean ?? AUTO_MAX_MEAN);
  return liftWith(meanAt, capped, bounds.minMean ?? AUTO_MIN_MEAN, bounds.maxLift ?? AUTO_MAX_LIFT);
}

/**
 * Longer side of the copy `strength=auto` reads the exposure on, in every mode and whatever the
 * model's estimation size: the thresholds below were calibrated on it, and on a much coarser copy a
 * small bright subject blurs into its dark surroundings and the photo reads darker than it is.
 */
export const EXPOSURE_SIZE = 64;

/** At or below this exposure score an image gets the full curves... */
export const AUTO_DARK = 0.25;
/** ...and from this one up it passes unchanged. */
export const AUTO_BRIGHT = 0.45;

/**
 * `strength=auto`: 1 for dark images (exposure score <= 0.25), 0 for well-exposed ones (>= 0.45), a
 * smoothstep in between. The score (`exposureScore`) is measured on a copy of EXPOSURE_SIZE px (longer
 * side). On LOL's low-light images it is at most 0.19; on well-exposed photos at least 0.38. Results below
 * 0.01 round to 0 so the model is not run for an invisible change.
 */
export function autoStrength(score: number): number {
  const t = Math.min(1, Math.max(0, (AUTO_BRIGHT - score) / (AUTO_BRIGHT - AUTO_DARK)));
  const s = t * t * (3 - 2 * t);
  return s < 0.01 ? 0 : s;
}
