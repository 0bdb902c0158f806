/**
 * Smooth what the curves lifted, in proportion to the gain: luma-guided noise (image/denoise.ts, or
 * with `denoise: "strong"` the DCT denoiser, image/dct-denoise.ts),
 * then lossily coded colour's blotches (image/chroma.ts), then their deep shadows' blocks
 * (image/shadows.ts). The gain is the estimation copy's luma
 * after its own curves against before; where the copy is the image itself (full mode, or an image
 * already at estimation size), it is read from the curved image.
 */
import { DENOISE_DEFAULTS } from "../../image/denoise.ts";

import { lumaGrid } from "../../image/gain.ts";
import { areaDownscaleWasm } from "../../image/area-kernel.ts";
import { applyCurvesWasm, denoiseWasm } from "../../image/pixels.ts";
import { strongDenoise } from "../../image/dct-denoise.ts";
import { dctDenoiseWasm } from "../../image/dct-kernel.ts";
import { smoothDeepShadowsWasm } from "../../image/shadow-kernels.ts";
import { smoothChromaWasm } from "../../image/colour-kernels.ts";
import { curving, type Step } from "../context.ts";

export const denoise: Step = {
  name: "denoise",
  stage: "denoise",
  when: (ctx) => ctx.denoise !== undefined && curving(ctx),
  run(ctx) {
    if (!ctx.denoise || !curving(ctx)) return;
    const { amount, chroma, cell, before, strong, lossy, shadows } = ctx.denoise;
    const { estimate, image } = ctx;
    const curvedEstimate = estimate.data === image.data
      ? image
      : applyCurvesWasm(estimate, ctx.maps, ctx.model.iterations, ctx.strength, new Uint8Array(estimate.data.length));
    const gain = { before, after: lumaGrid(curvedEstimate, cell) };
    // f32 window sums: faster than the f64 (bit-exact) ones, within a level on a tiny share of bytes.
    if (amount > 0 && strong) strongDenoise(image, gain, amount, lossy, dctDenoiseWasm);
    else if (amount > 0) denoiseWasm(image, gain, amount, DENOISE_DEFAULTS, { precision: "f32" });
    if (chroma > 0) smoothChromaWasm(image, gain, chroma);
    if (shadows) smoothDeepShadowsWasm(image, shadows, areaDownscaleWasm(image, shadows.cols, shadows.rows), chroma);
  },
};
