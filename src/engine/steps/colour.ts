/**
 * Into sRGB. A photo with a Display P3, Adobe RGB or other embedded profile (read in admit) is
 * converted at output size, before the model sees it, so its colours are what its author saw; the
 * result is served as untagged sRGB, which every browser shows as sRGB.
 */
import { convertToSrgb } from "../../image/icc.ts";
import type { Step } from "../context.ts";

export const colour: Step = {
  name: "colour",
  stage: "colour",
  when: (ctx) => ctx.profile !== undefined,
  run(ctx) {
    convertToSrgb(ctx.image.data, ctx.profile!);
  },
};
