/**
 * Strength=auto's first half: read how exposed the content is on a 64 px copy (the probe)
 * and choose the strength from it (image/auto-strength.ts). A strength past 1 gets the probe too,
 * for its brightness cap. In fast mode with a model that estimates
 * at 64 px or less, the probe is also where the estimation copy is made from.
 */
import { autoStrength, contentMask, EXPOSURE_SIZE, exposureScore } from "../../image/auto-strength.ts";
import { estimationCopy } from "./estimate.ts";
import type { Step } from "../context.ts";

export const exposure: Step = {
  name: "exposure",
  stage: "estimate",
  when: (ctx) => ctx.strength !== 0,
  async run(ctx) {
    const auto = ctx.opts.strength === "auto";
    // A strength past 1 is capped on the probe too (model step).
    const strong = typeof ctx.opts.strength === "number" && ctx.opts.strength > 1;
    if (!auto && !strong && !probeFeedsEstimate(ctx.opts.mode, ctx.model.estimationSize)) return;
    const image = await estimationCopy(ctx.image, ctx.image, EXPOSURE_SIZE);
    ctx.probe = { image };
    if (auto || strong) ctx.probe.mask = contentMask(image);
    if (auto) ctx.strength = autoStrength(exposureScore(image, ctx.probe.mask!));
  },
};

/** Whether the estimation copy is made from the probe (a fraction of a pass over the full image). */
export function probeFeedsEstimate(mode: "fast" | "full", estimationSize: number): boolean {
  return mode === "fast" && estimationSize <= EXPOSURE_SIZE;
}
