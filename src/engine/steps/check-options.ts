/** The options themselves. The Worker validates parameters first; this guards the other callers (CLIs, tests). */
import { HttpError } from "../../shared/errors.ts";
import { MAX_STRENGTH } from "../../image/curves.ts";
import type { Step } from "../context.ts";

export const checkOptions: Step = {
  name: "check-options",
  run({ opts }) {
    if (typeof opts.strength === "number" && !(opts.strength >= 0 && opts.strength <= MAX_STRENGTH)) {
      throw new HttpError(400, "bad_parameter", `strength must be between 0 and ${MAX_STRENGTH} or "auto", got ${opts.strength}`);
    }
    if (opts.denoise !== undefined && opts.denoise !== "auto" && opts.denoise !== "strong" && !(typeof opts.denoise === "number" && opts.denoise >= 0 && opts.denoise <= 1)) {
      throw new HttpError(400, "bad_parameter", `denoise must be between 0 and 1, "auto" or "strong", got ${String(opts.denoise)}`);
    }
    if (opts.quality !== undefined && (!Number.isInteger(opts.quality) || opts.quality < 1 || opts.quality > 100)) {
      throw new HttpError(400, "bad_parameter", `quality must be an integer from 1 to 100, got ${opts.quality}`);
    }
    for (const [name, v] of [["width", opts.width], ["height", opts.height]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
        throw new HttpError(400, "bad_parameter", `${name} must be a positive integer, got ${v}`);
      }
    }
  },
};
