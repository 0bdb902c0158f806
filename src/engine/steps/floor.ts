/** Before the curves: the colour of the pixels at the noise floor is noise, not the scene's (image/floor.ts). */
import { desaturateFloorWasm } from "../../image/colour-kernels.ts";
import { curving, type Step } from "../context.ts";

export const floor: Step = {
  name: "floor",
  stage: "curves",
  when: curving,
  run(ctx) {
    // In place: the image is this request's own buffer (decoded or resized), about to be curved.
    desaturateFloorWasm(ctx.image);
  },
};
