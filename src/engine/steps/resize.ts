/**
 * Crop and resize to the output size, in the stored orientation: rotating the thumbnail
 * instead of the full-size source saves a full-size copy (resizing commutes with flips and transposes).
 */
import { sourceRect } from "../../image/orient.ts";
import { cropImage, OUTPUT_FILTER, resizeImage } from "../../image/resize.ts";
import type { Step } from "../context.ts";

export const resize: Step = {
  name: "resize",
  stage: "resize",
  async run(ctx) {
    const { target, orientation } = ctx;
    const crop = sourceRect(target.crop, orientation, ctx.image.width, ctx.image.height);
    const swap = orientation >= 5 && orientation <= 8;
    const cropped = cropImage(ctx.image, crop.x, crop.y, crop.width, crop.height);
    // A JPEG has no alpha: no need to look for any in every pixel of a 12 MP decode.
    const mayHaveAlpha = ctx.header.format !== "jpeg";
    ctx.image = await resizeImage(cropped, swap ? target.height : target.width, swap ? target.width : target.height, OUTPUT_FILTER, mayHaveAlpha);
  },
};
