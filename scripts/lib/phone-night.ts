/**
 * A dark photo the way a phone makes one at night, from a clean well-exposed photo: underexposed in
 * linear light, Poisson-Gaussian sensor noise, low-frequency chroma blotches (the phone's own
 * denoiser leaves colour noise in smooth patches), back to sRGB in 8 bits; the caller then encodes it
 * as a 4:2:0 JPEG. Deterministic for a seed, so the evaluation set is reproducible.
 */
import { linearToSrgb, srgbToLinear } from "../../src/image/icc.ts";
import { makeImage, type RgbaImage } from "../../src/shared/image.ts";
import { gaussian, mulberry32 } from "../../src/shared/rng.ts";

export interface NightShot {
  /** Share of the photo's exposure kept (3-12 % in the set). */
  exposure: number;
  /** Photons per unit of linear light at full exposure: shot noise grows as exposure falls. */
  photons: number;
  /** Read noise std in linear units. */
  read: number;
  /** Std of the chroma blotches, in linear units, and their size in pixels. */
  blotch: number;
  blotchSize: number;
}


/** Settings drawn for one photo from `seed`: exposure 3-12 %, a phone sensor's noise at that exposure. */
export function drawShot(seed: number): NightShot {
  const r = mulberry32(seed);
  return { exposure: 0.03 + 0.09 * r(), photons: 2000 + 2000 * r(), read: 0.0015 + 0.0015 * r(), blotch: 0.002 + 0.003 * r(), blotchSize: 12 + Math.floor(12 * r()) };
}

/** `clean` as a night shot with these settings (alpha 255). */
export function nightShot(clean: RgbaImage, s: NightShot, seed: number): RgbaImage {
  const { width: W, height: H } = clean;
  const rand = mulberry32(seed);
  // Smooth chroma fields: noise on a coarse grid, bilinearly upsampled, pushing red/blue against green.
  const gw = Math.ceil(W / s.blotchSize) + 2;
  const gh = Math.ceil(H / s.blotchSize) + 2;
  const fields = [0, 1].map(() => Float64Array.from({ length: gw * gh }, () => gaussian(rand)));
  const field = (f: Float64Array, x: number, y: number) => {
    const u = x / s.blotchSize, v = y / s.blotchSize;
    const i = Math.floor(u), j = Math.floor(v), fu = u - i, fv = v - j;
    const at = (a: number, b: number) => f[b * gw + a]!;
    return (at(i, j) * (1 - fu) + at(i + 1, j) * fu) * (1 - fv) + (at(i, j + 1) * (1 - fu) + at(i + 1, j + 1) * fu) * fv;
  };
  const out = makeImage(W, H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 4;
      const cb = field(fields[0]!, x, y) * s.blotch;
      const cr = field(fields[1]!, x, y) * s.blotch;
      const extra = [cr, -0.5 * (cr + cb), cb];
      for (let c = 0; c < 3; c++) {
        const signal = srgbToLinear(clean.data[p + c]! / 255) * s.exposure;
        // Shot noise: Poisson in photons, approximated by a Gaussian of the same variance; then read noise.
        const photons = signal * s.photons;
        const noisy = (photons + Math.sqrt(Math.max(photons, 0)) * gaussian(rand)) / s.photons + s.read * gaussian(rand) + extra[c]! * s.exposure * 4;
        out.data[p + c] = Math.round(Math.min(1, Math.max(0, linearToSrgb(Math.max(0, noisy)))) * 255);
      }
      out.data[p + 3] = 255;
    }
  }
  return out;
}
