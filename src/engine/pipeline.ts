/**
 * The enhancement pipeline as a named list of steps over one context (context.ts), in the order they
 * run; each step is a small file in steps/ and says when it has work to do. A new step goes where it
 * belongs in STEPS. The Worker and the Node CLIs run this same code.
 */
import type { ModelInfo } from "./model-info.ts";
import type { ModelRunner } from "./runtime.ts";
import type { Context, Step } from "./context.ts";
import type { PipelineOptions, PipelineResult } from "./options.ts";
import { checkOptions } from "./steps/check-options.ts";
import { admit } from "./steps/admit.ts";
import { decode } from "./steps/decode.ts";
import { resize } from "./steps/resize.ts";
import { orient } from "./steps/orient.ts";
import { colour } from "./steps/colour.ts";
import { exposure } from "./steps/exposure.ts";
import { estimate } from "./steps/estimate.ts";
import { model } from "./steps/model.ts";
import { measureGain } from "./steps/measure-gain.ts";
import { curves } from "./steps/curves.ts";
import { denoise } from "./steps/denoise.ts";
import { encode } from "./steps/encode.ts";

export const STEPS: readonly Step[] = [
  checkOptions, // 400 for options out of range
  admit, // header read; 422 over a pixel limit, before decoding; output size and format settled
  decode,
  resize, // crop and resize in the stored orientation...
  orient, // ...then turn the small result upright
  colour, // from the embedded profile (P3, Adobe RGB...) into sRGB
  exposure, // strength=auto: how dark the content is, on a 64 px probe
  estimate, // the copy the curves are estimated on
  model, // curve maps; strength=auto bounded on the probe
  measureGain, // input noise and luma before the curves, for denoise
  curves, // after desaturating the noise floor, whose colour is noise, in the same pass
  denoise, // smooth what the curves lifted, by the gain
  encode,
];

/** Run STEPS on `input`. Throws HttpError (400 options, 415 unsupported, 422 undecodable / over a limit). */
export async function runPipeline(runner: ModelRunner, info: ModelInfo, input: Uint8Array, opts: PipelineOptions): Promise<PipelineResult> {
  // The steps fill in the rest, each from what the ones before it left.
  const ctx = { input, opts, model: info, runner, strength: opts.strength === "auto" ? 1 : opts.strength } as Context;
  const timings: Record<string, number> = {};
  let clock = performance.now();
  for (const step of STEPS) {
    if (step.when && !step.when(ctx)) continue;
    await step.run(ctx);
    const now = performance.now();
    if (step.stage !== undefined) {
      timings[step.stage] = (timings[step.stage] ?? 0) + (now - clock);
      opts.probe?.(step.stage, ctx.image);
    }
    clock = now;
  }
  const { output, format, image } = ctx;
  if (!output || format === "source") throw new Error("the pipeline ended without an encoded image");
  return { bytes: output, format, width: image.width, height: image.height, strength: ctx.strength, timings, ...(ctx.scaledFrom ? { scaledFrom: ctx.scaledFrom } : {}) };
}
