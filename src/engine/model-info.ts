/**
 * What an exported model says about itself (stored as ONNX metadata_props), so the Worker and the CLI
 * need nothing but the .onnx file. The exporter writes these keys; the runtime reads them.
 */
/** The network's two sizes (scripts/lib/network.ts defines them): full DCE-Net, or the separable lite one. */
export type Arch = "dce" | "lite";

export const MODEL_INPUT = "input"; // float32 [1, 3, H, W], RGB in [0, 1]
export const MODEL_OUTPUT = "curves"; // float32 [1, 3 * curveMaps, H, W], in [-1, 1]

export type Variant = "fp32" | "fp16" | "int8";

export interface ModelInfo {
  name: string;
  version: string;
  arch: Arch;
  variant: Variant;
  iterations: number;
  curveMaps: number;
  /** Longer side, in pixels, of the copy the curves are estimated on in `fast` mode (trained at this size). */
  estimationSize: number;
  /** Free text: what it was trained on / imported from. */
  provenance: string;
  /** Optional training settings, e.g. exposure level, for the model card. */
  extra: Record<string, string>;
}

const KEYS = {
  name: "lowlight.name",
  version: "lowlight.version",
  arch: "lowlight.arch",
  variant: "lowlight.variant",
  iterations: "lowlight.iterations",
  curveMaps: "lowlight.curve_maps",
  estimationSize: "lowlight.estimation_size",
  provenance: "lowlight.provenance",
} as const;
const EXTRA_PREFIX = "lowlight.extra.";

export function modelInfoToMetadata(info: ModelInfo): Record<string, string> {
  const out: Record<string, string> = {
    [KEYS.name]: info.name,
    [KEYS.version]: info.version,
    [KEYS.arch]: info.arch,
    [KEYS.variant]: info.variant,
    [KEYS.iterations]: String(info.iterations),
    [KEYS.curveMaps]: String(info.curveMaps),
    [KEYS.estimationSize]: String(info.estimationSize),
    [KEYS.provenance]: info.provenance,
  };
  for (const [k, v] of Object.entries(info.extra)) out[EXTRA_PREFIX + k] = v;
  return out;
}

export function modelInfoFromMetadata(meta: Record<string, string>): ModelInfo {
  const need = (k: string): string => {
    const v = meta[k];
    if (v === undefined) throw new Error(`model metadata lacks "${k}": export the model with npm run export`);
    return v;
  };
  const int = (k: string): number => {
    const n = Number(need(k));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`model metadata "${k}" must be a positive integer`);
    return n;
  };
  const arch = need(KEYS.arch);
  if (arch !== "dce" && arch !== "lite") throw new Error(`model metadata arch "${arch}" is not dce or lite`);
  const variant = need(KEYS.variant);
  if (variant !== "fp32" && variant !== "fp16" && variant !== "int8") {
    throw new Error(`model metadata variant "${variant}" is not fp32, fp16 or int8`);
  }
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (k.startsWith(EXTRA_PREFIX)) extra[k.slice(EXTRA_PREFIX.length)] = v;
  return {
    name: need(KEYS.name),
    version: need(KEYS.version),
    arch,
    variant,
    iterations: int(KEYS.iterations),
    curveMaps: int(KEYS.curveMaps),
    estimationSize: int(KEYS.estimationSize),
    provenance: meta[KEYS.provenance] ?? "",
    extra,
  };
}

/**
 * Longer side of the downscaled copy the curves are estimated on (`fast` mode) for models exported
 * without `--estimation-size`. Curve maps are smooth (Zero-DCE++ showed they survive strong
 * downscaling), so 32 px gives the same photos as 64 px at a third of the model time
 * (docs/performance.md). `strength=auto` reads its exposure on its own 64 px copy (EXPOSURE_SIZE in
 * auto-strength.ts), from which this one is made.
 */
export const DEFAULT_ESTIMATION_SIZE = 32;
