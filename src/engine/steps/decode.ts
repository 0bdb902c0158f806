/**
 * Decode the source (and settle format "source", which depends on its alpha). A JPEG is decoded at
 * the scale admit settled, the smallest DCT scale (1/2, 1/4, 1/8) that still covers the output
 * (shrink-on-load): a thumbnail of a 12 MP photo never holds its 12 MP pixels. The probe and the
 * estimation copy are made from the output-size image, so they are covered too.
 */
import { HttpError } from "../../shared/errors.ts";
import { decode as decodeImage } from "../../image/codecs.ts";
import { scaledSize } from "../../image/jpeg-turbo.ts";
import { hasAlpha } from "../../shared/image.ts";
import type { Step } from "../context.ts";

export const decode: Step = {
  name: "decode",
  stage: "decode",
  async run(ctx) {
    const { header } = ctx;
    const shrink = ctx.shrink ?? 1;
    try {
      ctx.image = await decodeImage(ctx.input, header.format, shrink);
    } catch (e) {
      // Emscripten's exit() throws an ExitStatus object, not an Error.
      const why = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e);
      throw new HttpError(422, "undecodable", `the ${header.format.toUpperCase()} image could not be decoded (${why})`);
    }
    if (ctx.format === "source") {
      ctx.format = header.format === "jpeg" || header.format === "png" ? header.format : hasAlpha(ctx.image) ? "png" : "jpeg";
    }
    const want = scaledSize(header.width, header.height, shrink);
    const { width, height } = ctx.image;
    if (width !== want.width || height !== want.height) {
      throw new HttpError(422, "undecodable", `the image header says ${header.width}x${header.height} but it decodes to ${width}x${height}${shrink > 1 ? ` at 1/${shrink}` : ""}`);
    }
  },
};
