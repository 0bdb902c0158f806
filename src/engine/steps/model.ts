/**
 * The model estimates the curve maps; under strength=auto its second half then bounds the
 * strength on the probe (no brighter than a well-lit night, no darker than its low end), and a
 * strength past 1 is capped there so it stays a photo (STRONG_MAX_MEAN).
 */
import { boundStrength, boundStrong } from "../../image/auto-strength.ts";
import type { RgbaImage } from "../../shared/image.ts";
import type { Step } from "../context.ts";

export const model: Step = {
  name: "model",
  stage: "model",
  when: (ctx) => ctx.strength !== 0 && ctx.estimate !== undefined,
  async run(ctx) {
    const estimate = ctx.estimate!;
    ctx.maps = await ctx.runner.run(toModelInput(estimate), estimate.width, estimate.height);
    const { probe, opts } = ctx;
    if (probe?.mask && typeof opts.strength === "number") {
      ctx.strength = boundStrong(probe.image, ctx.maps, ctx.model.iterations, ctx.strength, undefined, probe.mask);
    } else if (probe?.mask) {
      const bounds = { maxMean: opts.autoMaxMean, minMean: opts.autoMinMean, maxLift: opts.autoMaxLift };
      ctx.strength = boundStrength(probe.image, ctx.maps, ctx.model.iterations, ctx.strength, bounds, probe.mask);
    }
  },
};

/** RGB of an RGBA image as float32 NCHW in [0, 1] (the model input). */
function toModelInput(img: RgbaImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  const d = img.data;
  for (let i = 0, p = 0; i < n; i++, p += 4) {
    out[i] = d[p]! / 255;
    out[n + i] = d[p + 1]! / 255;
    out[2 * n + i] = d[p + 2]! / 255;
  }
  return out;
}
