/**
 * The curves, at output size, with the maps upsampled on the fly (image/curves.ts). In the same
 * pass and first, the colour of the pixels at the noise floor is taken out (image/floor.ts): it is
 * noise, and the lift would make it a cast.
 */
import { applyCurvesWasm } from "../../image/pixels.ts";
import { curving, type Step } from "../context.ts";

export const curves: Step = {
  name: "curves",
  stage: "curves",
  when: curving,
  run(ctx) {
    if (!curving(ctx)) return;
    // In place: the image is this request's own buffer (decoded or resized), not needed afterwards.
    ctx.image = applyCurvesWasm(ctx.image, ctx.maps, ctx.model.iterations, ctx.strength, ctx.image.data, "auto", { floor: true });
  },
};
