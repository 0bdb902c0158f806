/**
 * The one context the pipeline's steps work on, and the shape of a step. Each step reads what the
 * steps before it left here and adds its own part; `pipeline.ts` lists them in order.
 */
import type { ModelInfo } from "./model-info.ts";
import type { ModelRunner } from "./runtime.ts";
import type { PipelineOptions, OutputFormat } from "./options.ts";
import type { CurveMaps } from "../image/curves.ts";
import type { Profile } from "../image/icc.ts";
import type { LumaGrid } from "../image/gain.ts";
import type { ShadowLevels } from "../image/shadows.ts";
import type { FitResult } from "../image/resize.ts";
import type { ImageHeader } from "../image/sniff.ts";
import type { ShrinkFactor } from "../image/jpeg-turbo.ts";
import type { RgbaImage } from "../shared/image.ts";

export interface Context {
  readonly input: Uint8Array;
  readonly opts: PipelineOptions;
  readonly model: ModelInfo;
  readonly runner: ModelRunner;
  /** From the source's header, before decoding (admit). */
  header: ImageHeader;
  /** The embedded colour profile to convert from; undefined when the image is sRGB (admit). */
  profile?: Profile & { kind: "rgb" | "gray" };
  /** EXIF orientation to apply (1 = none). */
  orientation: number;
  /** Output size and the upright source rectangle it comes from. */
  target: FitResult;
  /** Set when no size was asked for and the photo was scaled down to the output limit: its upright size. */
  scaledFrom?: { width: number; height: number };
  /** The format to encode; "source" until the decoded image says (decode). */
  format: OutputFormat;
  /** JPEG shrink-on-load: the source is decoded at 1/shrink of its size (admit). */
  shrink?: ShrinkFactor;
  /** The image being made: decoded, then resized, oriented, curved, denoised in turn. */
  image: RgbaImage;
  /** The strength to apply; "auto" starts at 1 and is resolved by the exposure and model steps. */
  strength: number;
  /** strength=auto's 64 px copy and its content mask (auto-strength.ts). */
  probe?: { image: RgbaImage; mask?: Uint8Array };
  /** The image the curves are estimated on: a small copy (fast mode) or `image` itself. */
  estimate?: RgbaImage;
  maps?: CurveMaps;
  /**
   * Set when the lifted noise is to be smoothed: how much, the luma grid before the curves, and for
   * lossy sources with deep shadows, their levels (image/shadows.ts); `strong` picks the DCT denoiser
   * (image/dct-denoise.ts) and `lossy` its noise scale.
   */
  denoise?: { amount: number; chroma: number; cell: number; before: LumaGrid; strong: boolean; lossy: boolean; shadows?: ShadowLevels };
  /** The encoded result. */
  output?: Uint8Array<ArrayBuffer>;
}

export interface Step {
  readonly name: string;
  /** The Server-Timing stage its time counts towards; none for the checks before decoding. */
  readonly stage?: string;
  /** Whether the step has work for this request (default: always). */
  when?(ctx: Context): boolean;
  run(ctx: Context): void | Promise<void>;
}

/** Whether the curves apply: strength was not resolved to 0 and the model gave maps. */
export function curving(ctx: Context): ctx is Context & { maps: CurveMaps; estimate: RgbaImage } {
  return ctx.strength !== 0 && ctx.maps !== undefined && ctx.estimate !== undefined;
}
