/**
 * Everything that can be refused from the header is refused before decoding: the source's
 * pixels against its format's limit (a JPEG's: what it decodes into at the DCT scale its output
 * needs, which this step settles), a file that stops before its image does (complete.ts), the
 * output size against the output limits. Also settles the
 * orientation, the output size and the format (AVIF over its limit falls back to WebP under format=auto).
 */
import { HttpError } from "../../shared/errors.ts";
import { readHeader } from "../../image/sniff.ts";
import { checkComplete } from "../../image/complete.ts";
import { embeddedProfile } from "../../image/colour-profile.ts";
import { orientedSize } from "../../image/orient.ts";
import { fitSize, type FitResult } from "../../image/resize.ts";
import { scaledSize, shrinkFactor, type ShrinkFactor } from "../../image/jpeg-turbo.ts";
import { makeRoomFor } from "../../image/instance-pool.ts";
import { heifShrinkFactor, MAX_HEIF_TILE_PIXELS } from "../../image/heif.ts";
import type { ImageHeader } from "../../image/sniff.ts";
import { sourceRect } from "../../image/orient.ts";
import type { InputFormat } from "../../shared/image.ts";
import type { PipelineLimits } from "../options.ts";
import type { Context, Step } from "../context.ts";

/**
 * Each format's own source limit, on top of maxSourcePixels: decoders differ in heap per pixel, so
 * the formats whose decoders need more get lower limits (the values and their reasons: src/config/config.ts).
 */
const SOURCE_LIMITS: Readonly<Record<InputFormat, { limit: keyof PipelineLimits; name: string } | null>> = {
  jpeg: null,
  gif: { limit: "maxGifSourcePixels", name: "GIF" },
  png: { limit: "maxPngSourcePixels", name: "PNG" },
  webp: { limit: "maxWebpSourcePixels", name: "WebP" },
  avif: { limit: "maxAvifSourcePixels", name: "AVIF" },
  heic: null,
};

/** The largest side each encoder writes (WebP's format stores 14 bits; JPEG's headers 16). */
const MAX_SIDE: Readonly<Partial<Record<OutputFormatName, number>>> = { webp: 16383, jpeg: 65535, avif: 65536 };
type OutputFormatName = "jpeg" | "png" | "webp" | "avif";

/** `param`: the request parameter that would fix it (a smaller w/h, another mode or format), if any. */
function tooManyPixels(what: string, w: number, h: number, limit: number, param?: string): HttpError {
  return new HttpError(422, "too_many_pixels", `${what} is ${w}x${h} = ${w * h} pixels; the limit is ${limit}`, param);
}

export const admit: Step = {
  name: "admit",
  async run(ctx) {
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
    // Before decoding too: a cut-off file would decode to a half-grey picture.
    checkComplete(ctx.input, header.format);
    // A profile that cannot be converted exactly is refused now, not after the work of decoding.
    const profile = await embeddedProfile(ctx.input, header);
    if (profile) ctx.profile = profile;
    ctx.header = header;
    ctx.orientation = opts.orient ? header.orientation : 1;

    const upright = orientedSize(header.width, header.height, ctx.orientation);
    let target = fitSize(upright.width, upright.height, opts.width, opts.height, opts.fit);
    if (target.width * target.height > limits.maxOutputPixels) {
      if (opts.width !== undefined || opts.height !== undefined) {
        const most = largestWithin(target.width, target.height, limits.maxOutputPixels);
        throw new HttpError(
          422,
          "too_many_pixels",
          `the output image is ${target.width}x${target.height} = ${target.width * target.height} pixels; the limit is ${limits.maxOutputPixels}: ` +
            `at this aspect ratio the largest output is ${most.width}x${most.height} (w=${most.width} or h=${most.height}, dpr included)`,
          "w",
        );
      }
      // No size asked for: the photo at the largest size the budget allows, never a refusal for being large.
      const most = largestWithin(upright.width, upright.height, limits.maxOutputPixels);
      target = fitSize(upright.width, upright.height, most.width, most.height, "scale-down");
      ctx.scaledFrom = { width: upright.width, height: upright.height };
    }
    const output = target.width * target.height;
    if (opts.mode === "full" && opts.strength !== 0 && output > limits.maxFullModePixels) {
      throw tooManyPixels("mode=full output", target.width, target.height, limits.maxFullModePixels, "mode");
    }
    ctx.target = target;
    if (header.format === "jpeg") ctx.shrink = admitShrinking(ctx, limits.maxJpegDecodePixels ?? limits.maxSourcePixels, JPEG_SCALES);
    if (header.format === "heic") ctx.shrink = admitShrinking(ctx, limits.maxHeicDecodePixels ?? limits.maxSourcePixels, heicScales(header));
    // A WebP within its source limit decodes at the scale the output needs (webp-dec.ts), for speed.
    // Its limit, and the room made for it, stay its full size: a lossless WebP's decoder holds the
    // full-size image at any scale.
    if (header.format === "webp") ctx.shrink = coveringScale(ctx, ctx.target, shrinkFactor).n;
    const decoded = ctx.shrink && header.format !== "webp" ? scaledSize(header.width, header.height, ctx.shrink) : header;
    makeRoomFor(Math.max(decoded.width * decoded.height, ctx.target.width * ctx.target.height));

    const maxAvif = limits.maxAvifPixels ?? limits.maxOutputPixels;
    const { width: outW, height: outH } = ctx.target;
    ctx.format = opts.format;
    if (opts.format === "avif" && outW * outH > maxAvif) {
      if (!opts.avifFallback) throw tooManyPixels("an AVIF output", outW, outH, maxAvif, "format");
      ctx.format = "webp";
    }
    // A format's largest side (a long strip can be within the pixel limits and not fit it).
    const side = ctx.format === "source" ? undefined : MAX_SIDE[ctx.format];
    if (side !== undefined && Math.max(outW, outH) > side) {
      // format=auto takes PNG, which has no such bound.
      if (!opts.avifFallback) {
        throw new HttpError(422, "too_many_pixels", `a ${ctx.format.toUpperCase()} output is at most ${side} pixels on a side; this one is ${outW}x${outH}: ask for a smaller w or h, or another format`, "format");
      }
      ctx.format = "png";
    }
  },
};

/** How a format decodes smaller than its size: the scales it has, and the one an output needs. */
interface Scales {
  name: string;
  factors: readonly ShrinkFactor[];
  /** The smallest scale at which a width x height region still covers an outWidth x outHeight output. */
  factor(width: number, height: number, outWidth: number, outHeight: number): ShrinkFactor;
}

/** libjpeg's DCT scaling (jpeg-turbo.ts). */
const JPEG_SCALES: Scales = { name: "JPEG", factors: [2, 4, 8], factor: shrinkFactor };

/** A HEIC's tiles averaged over n x n blocks (heif.ts): the scales that divide its tiles. */
function heicScales(header: ImageHeader): Scales {
  const tile = header.heifTile!;
  if (tile.tileWidth * tile.tileHeight > MAX_HEIF_TILE_PIXELS) {
    throw new HttpError(422, "too_many_pixels", `the HEIC is stored in pieces of ${tile.tileWidth}x${tile.tileHeight} pixels, each decoded whole; the limit is ${MAX_HEIF_TILE_PIXELS} pixels a piece (phones store grids of 512x512)`);
  }
  return {
    name: "HEIC",
    factors: ([2, 4, 8] as const).filter((n) => tile.tileWidth % n === 0 && tile.tileHeight % n === 0),
    factor: (w, h, ow, oh) => heifShrinkFactor(w, h, ow, oh, tile),
  };
}

/**
 * The scale `factor` picks for `target`: the smallest that still covers the part of the source it
 * comes from (in the stored orientation); what the whole source decodes into at that scale.
 */
function coveringScale(ctx: Context, target: FitResult, factor: Scales["factor"]): { n: ShrinkFactor; pixels: number; crop: { width: number; height: number } } {
  const { orientation, header } = ctx;
  const swap = orientation >= 5 && orientation <= 8;
  const crop = sourceRect(target.crop, orientation, header.width, header.height);
  const n = swap ? factor(crop.width, crop.height, target.height, target.width) : factor(crop.width, crop.height, target.width, target.height);
  const d = scaledSize(header.width, header.height, n);
  return { n, pixels: d.width * d.height, crop };
}

/**
 * A JPEG's or HEIC's shrink-on-load scale for this output: the smallest scale (1/2, 1/4, 1/8) that
 * still covers it. What it decodes into at that scale must fit `limit`. When it does not, a
 * request that named no size gets the largest output that decodes small enough (never a refusal
 * for being large); one that named a size gets a 422 saying how wide an output would fit.
 */
function admitShrinking(ctx: Context, limit: number, scales: Scales): ShrinkFactor {
  const { orientation, header, opts } = ctx;
  const swap = orientation >= 5 && orientation <= 8;
  const scaleFor = (target: FitResult) => coveringScale(ctx, target, scales.factor);
  const at = scaleFor(ctx.target);
  if (at.pixels <= limit) return at.n;
  const fits = scales.factors.find((m) => {
    const d = scaledSize(header.width, header.height, m);
    return d.width * d.height <= limit;
  });
  const upright = orientedSize(header.width, header.height, orientation);
  if (fits && opts.width === undefined && opts.height === undefined) {
    ctx.target = fitSize(upright.width, upright.height, Math.floor(upright.width / fits), Math.floor(upright.height / fits), "scale-down");
    ctx.scaledFrom = { width: upright.width, height: upright.height };
    return scaleFor(ctx.target).n;
  }
  const d = scaledSize(header.width, header.height, at.n);
  const scale = at.n === 1 ? "at full size" : `at 1/${at.n} of its size`;
  // The widest output that decodes small enough: the (upright) source width over that scale.
  const uprightCrop = swap ? at.crop.height : at.crop.width;
  const hint = fits ? `; an output at most ${Math.floor(uprightCrop / fits)} px wide (w) decodes at 1/${fits} and fits` : "";
  throw new HttpError(
    422,
    "too_many_pixels",
    `the ${scales.name} source image is ${header.width}x${header.height} = ${header.width * header.height} pixels; for this output it decodes ${scale}, ` +
      `${d.width}x${d.height} = ${d.width * d.height} pixels; the limit is ${limit}${hint}`,
    "w",
  );
}

/** The largest width x height of the aspect of `w` x `h` whose product is at most `pixels`. */
function largestWithin(w: number, h: number, pixels: number): { width: number; height: number } {
  const scale = Math.sqrt(pixels / (w * h));
  let width = Math.max(1, Math.floor(w * scale));
  let height = Math.max(1, Math.floor(h * scale));
  while (width * height > pixels) {
    if (width >= height) width--;
    else height--;
  }
  return { width, height };
}
