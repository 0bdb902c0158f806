/** Turn the (already resized) image upright by its EXIF orientation. */
import { applyOrientation } from "../../image/orient.ts";
import type { Step } from "../context.ts";

export const orient: Step = {
  name: "orient",
  stage: "orient",
  run(ctx) {
    ctx.image = applyOrientation(ctx.image, ctx.orientation);
  },
};
