/**
 * Image quality metrics, following the benchmark convention (../shared/datasets/README.md): RGB in
 * [0, 1] at full resolution, alpha ignored.
 *  - PSNR: 10 log10(1 / MSE) over all pixels and the three channels (data range 1).
 *  - SSIM: scikit-image `structural_similarity(a, b, channel_axis=2, data_range=1)` with its defaults:
 *    7x7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance (x 49/48), SSIM map cropped by 3 pixels
 *    on every side (where the window never touches the border, so padding is irrelevant), averaged per
 *    channel, then over the channels. Window sums come from summed-area tables: O(pixels).
 */
import type { RgbaImage } from "../../src/shared/image.ts";

function assertSameSize(a: RgbaImage, b: RgbaImage): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`images differ in size: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
}

/** PSNR in dB of RGB in [0, 1]; Infinity for identical images. */
export function psnr(a: RgbaImage, b: RgbaImage): number {
  assertSameSize(a, b);
  let se = 0;
  const n = a.width * a.height;
  for (let i = 0; i < n * 4; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = (a.data[i + c]! - b.data[i + c]!) / 255;
      se += d * d;
    }
  }
  const mse = se / (3 * n);
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/** Mean of the RGB values in [0, 1] (the "mean brightness" of the benchmark tables). */
export function meanBrightness(a: RgbaImage, mask?: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0, p = 0; i < a.data.length; i += 4, p++) {
    if (mask && !mask[p]) continue;
    s += a.data[i]! + a.data[i + 1]! + a.data[i + 2]!;
    n++;
  }
  return n === 0 ? 0 : s / (3 * n) / 255;
}

/**
 * Gray-world deviation: sqrt of the summed squared differences between the R, G and B channel means
 * (in [0,1]), the quantity Zero-DCE's colour-constancy loss penalises. 0 = no cast.
 */
export function grayWorldDeviation(a: RgbaImage): number {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    r += a.data[i]!;
    g += a.data[i + 1]!;
    b += a.data[i + 2]!;
  }
  const n = 255 * a.width * a.height;
  [r, g, b] = [r / n, g / n, b / n];
  return Math.sqrt((r - g) ** 2 + (r - b) ** 2 + (g - b) ** 2);
}

const WIN = 7;
const K1 = 0.01;
const K2 = 0.03;

/** Summed-area table (with a zero first row/column) of f(x, y). */
function integral(w: number, h: number, f: (i: number) => number): Float64Array {
  const W = w + 1;
  const t = new Float64Array(W * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += f(y * w + x);
      t[(y + 1) * W + x + 1] = t[y * W + x + 1]! + row;
    }
  }
  return t;
}

/** Mean SSIM of one channel (0 R, 1 G, 2 B). */
export function ssimChannel(a: RgbaImage, b: RgbaImage, channel: number): number {
  assertSameSize(a, b);
  const { width: w, height: h } = a;
  if (w < WIN || h < WIN) throw new Error(`SSIM needs images of at least ${WIN}x${WIN} pixels`);
  const x = new Float64Array(w * h);
  const y = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) {
    x[i] = a.data[i * 4 + channel]! / 255;
    y[i] = b.data[i * 4 + channel]! / 255;
  }
  const sx = integral(w, h, (i) => x[i]!);
  const sy = integral(w, h, (i) => y[i]!);
  const sxx = integral(w, h, (i) => x[i]! * x[i]!);
  const syy = integral(w, h, (i) => y[i]! * y[i]!);
  const sxy = integral(w, h, (i) => x[i]! * y[i]!);
  const W = w + 1;
  const box = (t: Float64Array, x0: number, y0: number): number =>
    t[(y0 + WIN) * W + x0 + WIN]! - t[y0 * W + x0 + WIN]! - t[(y0 + WIN) * W + x0]! + t[y0 * W + x0]!;
  const np = WIN * WIN;
  const covNorm = np / (np - 1);
  const c1 = K1 * K1;
  const c2 = K2 * K2;
  let total = 0;
  // Window top-left (x0, y0) <-> centre (x0 + 3, y0 + 3): exactly the centres skimage keeps after its crop.
  for (let y0 = 0; y0 + WIN <= h; y0++) {
    for (let x0 = 0; x0 + WIN <= w; x0++) {
      const ux = box(sx, x0, y0) / np;
      const uy = box(sy, x0, y0) / np;
      const vx = covNorm * (box(sxx, x0, y0) / np - ux * ux);
      const vy = covNorm * (box(syy, x0, y0) / np - uy * uy);
      const vxy = covNorm * (box(sxy, x0, y0) / np - ux * uy);
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return total / ((w - WIN + 1) * (h - WIN + 1));
}

/** Mean SSIM over R, G, B (scikit-image convention, see above). */
export function ssim(a: RgbaImage, b: RgbaImage): number {
  return (ssimChannel(a, b, 0) + ssimChannel(a, b, 1) + ssimChannel(a, b, 2)) / 3;
}

/**
 * `out` scaled by the one gain g that minimises its squared error against `ref` (g = <out, ref> /
 * <out, out> over RGB), clipped and rounded to 8 bits; alpha kept. A diagnostic for paired sets: the
 * scores of this image say how good the output would be at the reference's own brightness, which
 * an enhancer cannot know (LOL's references range from 0.25 to 0.63 in mean brightness), and so
 * separate a brightness miss from lost structure and noise.
 */
export function atReferenceGain(out: RgbaImage, ref: RgbaImage): { image: RgbaImage; gain: number } {
  assertSameSize(out, ref);
  let oo = 0;
  let or = 0;
  for (let i = 0; i < out.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      oo += out.data[i + c]! * out.data[i + c]!;
      or += out.data[i + c]! * ref.data[i + c]!;
    }
  }
  const gain = oo === 0 ? 1 : or / oo;
  const data = new Uint8Array(out.data.length);
  for (let i = 0; i < data.length; i += 4) {
    for (let c = 0; c < 3; c++) data[i + c] = Math.min(255, Math.round(out.data[i + c]! * gain));
    data[i + 3] = out.data[i + 3]!;
  }
  return { image: { width: out.width, height: out.height, data }, gain };
}

/**
 * Colour noise: the mean square of the high frequencies of the chroma (full-range BT.601 Cb and Cr,
 * 0-255 units, each minus its 3x3 box mean), over the interior. A clean photo has some (colour edges);
 * a night shot's lifted colour blotches and speckle add to it, so the figure is read as a ratio to
 * the clean reference's own (`chromaNoiseRatio`).
 */
export function chromaNoise(img: RgbaImage): number {
  const { width: W, height: H, data: d } = img;
  if (W < 3 || H < 3) return 0;
  const cb = new Float64Array(W * H);
  const cr = new Float64Array(W * H);
  for (let p = 0; p < W * H; p++) {
    const r = d[p * 4]!, g = d[p * 4 + 1]!, b = d[p * 4 + 2]!;
    cb[p] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    cr[p] = 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  let sum = 0;
  let n = 0;
  for (let y = 1; y < H - 1; y++) {
    for (let x = 1; x < W - 1; x++) {
      for (const c of [cb, cr]) {
        let box = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) box += c[(y + dy) * W + x + dx]!;
        const hf = c[y * W + x]! - box / 9;
        sum += hf * hf;
        n++;
      }
    }
  }
  return sum / n;
}

/** `chromaNoise` of `img` over that of the clean `ref`: 1 is as clean as the reference, 2 twice its colour noise. */
export function chromaNoiseRatio(img: RgbaImage, ref: RgbaImage): number {
  assertSameSize(img, ref);
  const clean = chromaNoise(ref);
  return clean > 0 ? chromaNoise(img) / clean : Infinity;
}

/**
 * JPEG blocking: the mean absolute luma step between neighbours across 8-pixel block boundaries
 * (columns and rows 7 | 8, 15 | 16, ...) over the mean step everywhere else. 1 is no more change at
 * the block grid than inside the blocks; a lifted mosaic of flat 8x8 tiles reads far above it.
 */
export function blockiness(img: RgbaImage): number {
  const { width: W, height: H, data: d } = img;
  const y = new Float64Array(W * H);
  for (let p = 0; p < W * H; p++) y[p] = 0.2126 * d[p * 4]! + 0.7152 * d[p * 4 + 1]! + 0.0722 * d[p * 4 + 2]!;
  let edge = 0, edges = 0, inner = 0, inners = 0;
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const v = y[r * W + c]!;
      if (c + 1 < W) {
        const s = Math.abs(y[r * W + c + 1]! - v);
        if ((c & 7) === 7) { edge += s; edges++; } else { inner += s; inners++; }
      }
      if (r + 1 < H) {
        const s = Math.abs(y[(r + 1) * W + c]! - v);
        if ((r & 7) === 7) { edge += s; edges++; } else { inner += s; inners++; }
      }
    }
  }
  if (edges === 0 || edge === 0) return 1;
  return inner === 0 ? Infinity : edge / edges / (inner / inners);
}
