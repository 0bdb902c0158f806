/**
 * The image the curves are estimated on: in fast mode a copy of the model's estimation size
 * (Zero-DCE++: the curve maps survive downscaling), in full mode the output image itself.
 */
import { areaDownscaleWasm } from "../../image/area-kernel.ts";
import { ESTIMATION_FILTER, estimationDims, resizeImage } from "../../image/resize.ts";
import type { RgbaImage } from "../../shared/image.ts";
import type { Step } from "../context.ts";

export const estimate: Step = {
  name: "estimate",
  stage: "estimate",
  when: (ctx) => ctx.strength !== 0,
  async run(ctx) {
    const { image, probe } = ctx;
    if (ctx.opts.mode === "full") {
      ctx.estimate = image;
      return;
    }
    ctx.estimate = await estimationCopy(image, probe?.image ?? image, ctx.model.estimationSize);
  },
};

/**
 * `img` scaled down to fit `size` px (longer side) with the training data's filter, made from `from`
 * (img itself or a smaller copy of it); `from` itself when it already has that size.
 */
export async function estimationCopy(img: RgbaImage, from: RgbaImage, size: number): Promise<RgbaImage> {
  const e = estimationDims(img.width, img.height, size);
  if (e.width === from.width && e.height === from.height) return from;
  // "area" runs in WASM, with resizeImage's bytes.
  return ESTIMATION_FILTER === "area" ? areaDownscaleWasm(from, e.width, e.height) : resizeImage(from, e.width, e.height, ESTIMATION_FILTER);
}
