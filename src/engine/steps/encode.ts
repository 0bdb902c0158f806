/** Encode in the settled format and quality. */
import { encode as encodeImage } from "../../image/codecs.ts";
import type { Step } from "../context.ts";

export const encode: Step = {
  name: "encode",
  stage: "encode",
  async run(ctx) {
    const { format } = ctx;
    if (format === "source") throw new Error("the output format was not settled before encoding");
    ctx.output = await encodeImage(ctx.image, format, ctx.opts.quality === undefined ? {} : { quality: ctx.opts.quality });
  },
};
