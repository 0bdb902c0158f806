/** The curves, at output size, with the maps upsampled on the fly (image/curves.ts). */
import { applyCurvesWasm } from "../../image/pixels.ts";
import { curving, type Step } from "../context.ts";

export const curves: Step = {
  name: "curves",
  stage: "curves",
  when: curving,
  run(ctx) {
    if (!curving(ctx)) return;
    // In place: the image is this request's own buffer (decoded or resized), not needed afterwards.
    ctx.image = applyCurvesWasm(ctx.image, ctx.maps, ctx.model.iterations, ctx.strength);
  },
};
