/** Decode the source (and settle format "source", which depends on its alpha). */
import { HttpError } from "../../shared/errors.ts";
import { decode as decodeImage } from "../../image/codecs.ts";
import { hasAlpha } from "../../shared/image.ts";
import type { Step } from "../context.ts";

export const decode: Step = {
  name: "decode",
  stage: "decode",
  async run(ctx) {
    const { header } = ctx;
    try {
      ctx.image = await decodeImage(ctx.input, header.format);
    } catch (e) {
      // Emscripten's exit() throws an ExitStatus object, not an Error.
      const why = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e);
      throw new HttpError(422, "undecodable", `the ${header.format.toUpperCase()} image could not be decoded (${why})`);
    }
    if (ctx.format === "source") {
      ctx.format = header.format === "jpeg" || header.format === "png" ? header.format : hasAlpha(ctx.image) ? "png" : "jpeg";
    }
    const { width, height } = ctx.image;
    if (width !== header.width || height !== header.height) {
      throw new HttpError(422, "undecodable", `the image header says ${header.width}x${header.height} but it decodes to ${width}x${height}`);
    }
  },
};
