/**
 * The `strength=auto` policy, in two halves around the model:
 * - before it, `autoStrength(exposureScore(probe))`: how dark the photo's content looks on a 64 px
 *   copy (the probe) decides between the full curves (dark), none (well exposed) and a blend;
 * - after it, `boundStrength`: the curves are tried on the probe, and the strength is capped so the
 *   content ends no brighter than a well-lit night (AUTO_MAX_MEAN) and lifted past the model's curves
 *   when they leave it darker than the low end of one (AUTO_MIN_MEAN).
 * Empty black canvas (a product on black, letterboxing) is left out of every reading (`contentMask`).
 */
import { applyCurves, type CurveMaps } from "./curves.ts";
import { luma709, lumaBytes } from "./luma.ts";
import type { RgbaImage } from "../shared/image.ts";

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

/** Mean Rec. 709 luma of the RGB values (sRGB-encoded, in [0,1]), over the pixels `mask` marks (default all). */
export function meanLuma(img: RgbaImage, mask?: Uint8Array): number {
  return luma709(...channelMeans(img, mask));
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
 * a well-lit night. A lower cap cost LOL PSNR (its references reach 0.6 on the darkest rooms).
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
 * The cap: the largest strength up to `strength` whose result keeps the content's brightness
 * (`meanAt`, see `contentBrightness`) at or below `maxMean`. The brightness grows with the strength,
 * so a bisection of a few steps on the 64 px probe finds it. `before` is the brightness untouched.
 */
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
 * The lift: when the model's full curves (strength 1) leave the content below `minMean`, the smallest
 * strength in (1, maxStrength] that reaches it (or maxStrength); otherwise `strength` unchanged. Only
 * strength 1 is lifted: a lower one was chosen on purpose (a half-dark photo, or the cap).
 */
function liftWith(meanAt: (s: number) => number, strength: number, minMean: number, maxStrength: number): number {
  if (strength !== 1 || maxStrength <= 1) return strength;
  if (meanAt(1) >= minMean) return 1;
  if (meanAt(maxStrength) <= minMean) return maxStrength;
  const { hi } = bisect(1, maxStrength, (s) => meanAt(s) >= minMean);
  // Two decimals (X-Enhance-Strength), rounded up to reach the floor.
  return Math.min(maxStrength, Math.ceil(hi * 100 - 1e-9) / 100);
}

/**
 * The brightest a strength past 1 takes the content (`contentBrightness`, on the probe): past 1 the
 * curves blend towards the strongest brightening one, which alone turns a night photo almost white
 * (a LIME photo at strength 2 was 95% white). Capped here, every strength up to MAX_STRENGTH is a
 * photo: the top of the scale is a bright one, with its shadows open and its highlights still there.
 */
export const STRONG_MAX_MEAN = 0.7;

/**
 * An explicit strength past 1, capped: the largest strength in [1, strength] whose content
 * brightness stays at or below `maxMean` (1 when the model's own curves already pass it). Up to 1
 * a strength is taken as asked.
 */
export function boundStrong(probe: RgbaImage, maps: CurveMaps, iterations: number, strength: number, maxMean: number = STRONG_MAX_MEAN, mask: Uint8Array = contentMask(probe)): number {
  if (strength <= 1) return strength;
  const meanAt = brightnessAt(probe, maps, iterations, mask);
  if (meanAt(strength) <= maxMean) return strength;
  if (meanAt(1) >= maxMean) return 1;
  const { lo } = bisect(1, strength, (s) => meanAt(s) > maxMean);
  return Math.max(1, Math.floor(lo * 100) / 100);
}

/** The bounds `strength=auto` keeps a photo's content in once the model has run (defaults: the served ones). */
export interface AutoBounds {
  /** The cap's ceiling (AUTO_MAX_MEAN); 1 turns the cap off. */
  maxMean?: number;
  /** The lift's floor (AUTO_MIN_MEAN). */
  minMean?: number;
  /** The lift's highest strength (AUTO_MAX_LIFT); 1 turns the lift off. */
  maxLift?: number;
}

/**
 * `strength=auto` after the model: the cap, then the lift, on one set of probe passes (the
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
