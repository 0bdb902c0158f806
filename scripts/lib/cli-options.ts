/** Option values shared by the enhance and eval CLIs. */
import type { PipelineLimits } from "../../src/engine/options.ts";
import { MAX_STRENGTH } from "../../src/image/curves.ts";
import type { DenoiseOption } from "../../src/image/noise.ts";

/**
 * Local runs have no edge memory limit. mode=full is capped at 4 MP: at full resolution DCE-Net keeps
 * several 32-channel activations alive, and ORT-web's WASM heap cannot grow past 4 GB.
 */
export const CLI_LIMITS: PipelineLimits = { maxSourcePixels: 200e6, maxOutputPixels: 200e6, maxFullModePixels: 4e6 };

/** "auto" or a number in 0..MAX_STRENGTH (2); calls `fail` with a message naming what is allowed otherwise. */
export function parseStrength(v: string, fail: (m: string) => never): number | "auto" {
  if (v === "auto") return "auto";
  const s = Number(v);
  if (v.trim() === "" || !Number.isFinite(s) || s < 0 || s > MAX_STRENGTH) fail(`--strength must be a number in 0..${MAX_STRENGTH} or auto, got "${v}"`);
  return s;
}

/** --denoise: "auto", "strong" or a number in 0..1 (0 = off); calls `fail` otherwise. */
export function parseDenoise(v: string, fail: (m: string) => never): DenoiseOption {
  if (v === "auto" || v === "strong") return v;
  const s = Number(v);
  if (v.trim() === "" || !Number.isFinite(s) || s < 0 || s > 1) fail(`--denoise must be a number in 0..1, auto or strong, got "${v}"`);
  return s;
}

export function parseMode(v: string, fail: (m: string) => never): "fast" | "full" {
  if (v !== "fast" && v !== "full") fail(`--mode must be fast or full, got "${v}"`);
  return v;
}
