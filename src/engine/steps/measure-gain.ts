/**
 * Before the curves: how noisy the input is (measured at full size, sampled) and so how much
 * to smooth (for a lossy source at least noise.ts's LOSSY_MIN_AMOUNT), and the luma grid the gain
 * will be read against. Cells of about DENOISE_DEFAULTS.cell output pixels, measured on the
 * estimation copy: gain is regional, and the copy is a few thousand pixels.
 * `denoise: "strong"` asks for the DCT denoiser (image/dct-denoise.ts) in the luma filter's place.
 * The chroma pass (image/chroma.ts) applies to lossily coded colour only, at the amount asked for
 * ("auto": 1; the quantisation that makes its blotches also hides them from a noise measurement).
 * For those sources it also reads the deep shadows' levels (image/shadows.ts: each cell's brightest
 * pixel), before the curves move them.
 */
import { DENOISE_DEFAULTS } from "../../image/denoise.ts";
import { lumaGrid } from "../../image/gain.ts";
import { denoiseAmount } from "../../image/noise.ts";
import { measureNoiseWasm } from "../../image/pixels.ts";
import { cellPeaksWasm } from "../../image/shadow-kernels.ts";
import { mayHaveDeepShadows, shadowGrid, shadowLevels, type ShadowLevels } from "../../image/shadows.ts";
import { curving, type Step } from "../context.ts";

export const measureGain: Step = {
  name: "measure-gain",
  stage: "denoise",
  when: (ctx) => curving(ctx) && ctx.opts.denoise !== 0,
  run(ctx) {
    const lossy = ctx.header.lossyColour === true;
    const amount = denoiseAmount(ctx.opts.denoise, measureNoiseWasm(ctx.image), lossy);
    const chroma = lossy ? (typeof ctx.opts.denoise === "number" ? ctx.opts.denoise : 1) : 0;
    if (amount <= 0 && chroma <= 0) return;
    const estimate = ctx.estimate!;
    const cell = Math.max(1, Math.round((DENOISE_DEFAULTS.cell * estimate.width) / ctx.image.width));
    const before = lumaGrid(estimate, cell);
    let shadows: ShadowLevels | undefined;
    if (chroma > 0 && mayHaveDeepShadows(before)) {
      const grid = shadowGrid(ctx.image.width, ctx.image.height);
      shadows = shadowLevels(cellPeaksWasm(ctx.image, grid.cols, grid.rows));
    }
    ctx.denoise = { amount, chroma, cell, before, strong: ctx.opts.denoise === "strong", lossy, ...(shadows ? { shadows } : {}) };
  },
};
