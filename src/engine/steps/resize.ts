/**
 * Crop and resize to the output size, in the stored orientation: rotating the thumbnail
 * instead of the full-size source saves a full-size copy (resizing commutes with flips and transposes).
 */
import { sourceRect } from "../../image/orient.ts";
import { cropImage, OUTPUT_FILTER, resizeImage } from "../../image/resize.ts";
import { areaDownscaleWasm } from "../../image/area-kernel.ts";
import type { Step } from "../context.ts";

/** `r` scaled by sx, sy onto a smaller image: whole pixels that cover it, at least one. */
function scaleRect(r: { x: number; y: number; width: number; height: number }, sx: number, sy: number): { x: number; y: number; width: number; height: number } {
  if (sx === 1 && sy === 1) return r;
  const x = Math.floor(r.x * sx), y = Math.floor(r.y * sy);
  return { x, y, width: Math.max(1, Math.ceil((r.x + r.width) * sx) - x), height: Math.max(1, Math.ceil((r.y + r.height) * sy) - y) };
}

export const resize: Step = {
  name: "resize",
  stage: "resize",
  async run(ctx) {
    const { target, orientation, header } = ctx;
    // The rectangle in the full-size source, then on the image as decoded (smaller after shrink-on-load).
    const crop = scaleRect(sourceRect(target.crop, orientation, header.width, header.height), ctx.image.width / header.width, ctx.image.height / header.height);
    const swap = orientation >= 5 && orientation <= 8;
    const cropped = cropImage(ctx.image, crop.x, crop.y, crop.width, crop.height);
    // A JPEG has no alpha: no need to look for any in every pixel of a 12 MP decode.
    const mayHaveAlpha = ctx.header.format !== "jpeg";
    ctx.image = await resizeImage(cropped, swap ? target.height : target.width, swap ? target.width : target.height, OUTPUT_FILTER, mayHaveAlpha, areaDownscaleWasm);
  },
};
