/**
 * Step 2: everything that can be refused from the header is refused before decoding: the source's
 * pixels against its format's limit, the output size against the output limits. Also settles the
 * orientation, the output size and the format (AVIF over its limit falls back to WebP under format=auto).
 */
import { HttpError } from "../../shared/errors.ts";
import { readHeader } from "../../image/sniff.ts";
import { orientedSize } from "../../image/orient.ts";
import { fitSize } from "../../image/resize.ts";
import type { ImageFormat } from "../../shared/image.ts";
import type { PipelineLimits } from "../options.ts";
import type { Step } from "../context.ts";

/**
 * Each format's own source limit, on top of maxSourcePixels: decoders differ in heap per pixel, so
 * the formats whose decoders need more get lower limits (the values and their reasons: src/config.ts).
 */
const SOURCE_LIMITS: Readonly<Record<ImageFormat, { limit: keyof PipelineLimits; name: string } | null>> = {
  jpeg: null,
  png: { limit: "maxPngSourcePixels", name: "PNG" },
  webp: { limit: "maxWebpSourcePixels", name: "WebP" },
  avif: { limit: "maxAvifSourcePixels", name: "AVIF" },
};

/** `param`: the request parameter that would fix it (a smaller w/h, another mode or format), if any. */
function tooManyPixels(what: string, w: number, h: number, limit: number, param?: string): HttpError {
  return new HttpError(422, "too_many_pixels", `${what} is ${w}x${h} = ${w * h} pixels; the limit is ${limit}`, param);
}

export const admit: Step = {
  name: "admit",
  run(ctx) {
    const { opts } = ctx;
    const { limits } = opts;
    const header = readHeader(ctx.input);
    const source = header.width * header.height;
    if (source > limits.maxSourcePixels) throw tooManyPixels("the source image", header.width, header.height, limits.maxSourcePixels);
    const own = SOURCE_LIMITS[header.format];
    const ownLimit = own ? limits[own.limit] : undefined;
    if (own && ownLimit !== undefined && source > ownLimit) {
      throw tooManyPixels(`the ${own.name} source image`, header.width, header.height, ownLimit);
    }
    ctx.header = header;
    ctx.orientation = header.format === "jpeg" && opts.orient ? header.orientation : 1;

    const upright = orientedSize(header.width, header.height, ctx.orientation);
    const target = fitSize(upright.width, upright.height, opts.width, opts.height, opts.fit);
    const output = target.width * target.height;
    if (output > limits.maxOutputPixels) throw tooManyPixels("the output image", target.width, target.height, limits.maxOutputPixels, "w");
    if (opts.mode === "full" && opts.strength !== 0 && output > limits.maxFullModePixels) {
      throw tooManyPixels("mode=full output", target.width, target.height, limits.maxFullModePixels, "mode");
    }
    ctx.target = target;

    const maxAvif = limits.maxAvifPixels ?? limits.maxOutputPixels;
    ctx.format = opts.format;
    if (opts.format === "avif" && output > maxAvif) {
      if (!opts.avifFallback) throw tooManyPixels("an AVIF output", target.width, target.height, maxAvif, "format");
      ctx.format = "webp";
    }
  },
};
