/**
 * Export DCE-Net weights as the three ONNX variants, verify each with onnxruntime-web against a
 * reference forward pass, choose the deployed one, and write the model card. Used by `npm run train`
 * (at the end of training, with the TF.js model as reference) and by the export/import CLIs.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { networkSpec, parameterCount, parameterShapes, type Arch, type Weights } from "../lib/network.ts";
import type { ModelInfo, Variant } from "../../src/engine/model-info.ts";
import { buildModel, serializeModel } from "./build-graph.ts";
import { compareForwards, onnxForward, sampleInputs, type Forward, type VerifyMetrics } from "./verify.ts";
import { describeArch, IO_DESCRIPTION, writeCard, type TrainingSection, type VariantEntry } from "../lib/model-card.ts";

export const VARIANTS: readonly Variant[] = ["fp32", "fp16", "int8"];
export const DEPLOYED_FILE = "lowlight.onnx";
export const variantFile = (v: Variant): string => `lowlight.${v}.onnx`;

/**
 * int8 is deployed by default: a quarter of the fp32 file with no visible change (on the official
 * weights its enhanced images are ~52-56 dB from fp32's, near the 59 dB of 8-bit rounding itself).
 * ORT-web is not faster with it (see notes/platform.md), so the gain is size and load time only, and
 * when int8 verifies below this PSNR the default falls back to fp16 instead of shipping visible error.
 */
export const DEFAULT_DEPLOY: Variant = "int8";
export const MIN_DEPLOY_PSNR_DB = 45;

export type ExportInfo = Omit<ModelInfo, "variant" | "arch" | "iterations" | "curveMaps"> &
  Partial<Pick<ModelInfo, "arch" | "iterations" | "curveMaps">>;

export interface ExportOptions {
  weights: Weights;
  arch: Arch;
  info: ExportInfo;
  outDir: string;
  /** Explicit choice; undefined = DEFAULT_DEPLOY with the fp16 fallback described above. */
  deploy?: Variant;
  /** Reference forward pass (e.g. the TF.js model); default: the fp32 ONNX file itself. */
  reference?: Forward;
  /** Shown in the table and card, e.g. "TF.js model (wasm backend)". */
  referenceName?: string;
  /** Training record for the model card; undefined keeps the card's existing one. */
  training?: TrainingSection;
  /** Below this image PSNR (dB) the default int8 deployment falls back to fp16. */
  minDeployPsnrDb?: number;
  log?: (line: string) => void;
}

export interface VariantResult extends VerifyMetrics {
  variant: Variant;
  file: string;
  bytes: number;
  sha256: string;
}

export interface ExportResult {
  variants: VariantResult[];
  deployed: Variant;
  deployedFile: string;
  reference: string;
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** sha256 over the float32 parameters (little-endian) in state_dict order of `arch`. */
export function weightsDigest(weights: Weights, arch: Arch): string {
  const h = createHash("sha256");
  for (const p of parameterShapes(networkSpec(arch))) {
    const t = weights.get(p.name);
    if (!t) throw new Error(`weights lack "${p.name}"`);
    h.update(p.name);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest("hex");
}

export function fullInfo(arch: Arch, info: ExportInfo, variant: Variant): ModelInfo {
  const spec = networkSpec(arch);
  if (info.arch !== undefined && info.arch !== arch) throw new Error(`info.arch "${info.arch}" contradicts arch "${arch}"`);
  return { ...info, arch, iterations: spec.iterations, curveMaps: spec.curveMaps, variant };
}

/** One variant as ONNX bytes. */
export function exportVariant(weights: Weights, arch: Arch, info: ExportInfo, variant: Variant): Uint8Array {
  return serializeModel(buildModel(weights, fullInfo(arch, info, variant)));
}

export async function exportModel(opts: ExportOptions): Promise<ExportResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  mkdirSync(opts.outDir, { recursive: true });
  const bytes = new Map<Variant, Uint8Array>();
  for (const v of VARIANTS) bytes.set(v, exportVariant(opts.weights, opts.arch, opts.info, v));

  const samples = sampleInputs();
  const samplesText = `${samples.length} seeded dark sample images (${samples.map((s) => `${s.w}x${s.h}`).join(", ")})`;
  const fp32 = await onnxForward(bytes.get("fp32")!);
  const reference = opts.reference ?? fp32.forward;
  const referenceName = opts.reference ? (opts.referenceName ?? "the supplied reference") : "the fp32 ONNX model (no independent reference given)";
  const results: VariantResult[] = [];
  try {
    for (const v of VARIANTS) {
      const b = bytes.get(v)!;
      const session = v === "fp32" ? fp32 : await onnxForward(b);
      try {
        const metrics = await compareForwards(session.forward, reference, samples);
        results.push({ variant: v, file: variantFile(v), bytes: b.length, sha256: sha256(b), ...metrics });
      } finally {
        if (v !== "fp32") await session.release();
      }
    }
  } finally {
    await fp32.release();
  }

  const fp32Result = results.find((r) => r.variant === "fp32")!;
  if (opts.reference && !(fp32Result.maxCurveDiff <= 1e-3)) {
    // The fp32 graph must match the reference almost exactly; anything else is an export bug.
    throw new Error(`fp32 ONNX differs from ${referenceName} by ${fp32Result.maxCurveDiff} (max |curve diff|, limit 1e-3): the exported graph is wrong`);
  }
  let deployed = opts.deploy ?? DEFAULT_DEPLOY;
  let why = opts.deploy ? `Chosen explicitly (deploy ${opts.deploy}).` : `Default (${DEFAULT_DEPLOY}: smallest file, no visible change).`;
  const chosen = results.find((r) => r.variant === deployed)!;
  const minPsnr = opts.minDeployPsnrDb ?? MIN_DEPLOY_PSNR_DB;
  if (!opts.deploy && !(chosen.imagePsnr >= minPsnr)) {
    deployed = "fp16";
    why = `int8 verified at ${chosen.imagePsnr.toFixed(1)} dB (< ${minPsnr} dB), so fp16 was deployed instead.`;
  }
  for (const r of results) writeFileSync(join(opts.outDir, r.file), bytes.get(r.variant)!);
  writeFileSync(join(opts.outDir, DEPLOYED_FILE), bytes.get(deployed)!);

  log(`verified against ${referenceName} on ${samplesText}:`);
  log(formatTable(results, deployed));
  log(`deployed ${DEPLOYED_FILE} = ${deployed}. ${why}`);

  const spec = networkSpec(opts.arch);
  const info = fullInfo(opts.arch, opts.info, deployed);
  const variants: VariantEntry[] = results.map((r) => ({
    variant: r.variant,
    file: r.file,
    bytes: r.bytes,
    sha256: r.sha256,
    maxCurveDiff: r.maxCurveDiff,
    imagePsnrDb: r.imagePsnr === Infinity ? "inf" : Number(r.imagePsnr.toFixed(2)),
  }));
  writeCard(opts.outDir, {
    name: info.name,
    version: info.version,
    architecture: {
      arch: opts.arch,
      description: describeArch(opts.arch),
      parameters: parameterCount(spec),
      iterations: spec.iterations,
      curveMaps: spec.curveMaps,
      input: IO_DESCRIPTION.input,
      output: IO_DESCRIPTION.output(spec.curveChannels),
    },
    estimationSize: info.estimationSize,
    provenance: info.provenance,
    weightsSha256: weightsDigest(opts.weights, opts.arch),
    extra: info.extra,
    training: opts.training,
    verification: { reference: referenceName, samples: samplesText },
    variants,
    deployed: { variant: deployed, file: DEPLOYED_FILE, sha256: sha256(bytes.get(deployed)!), why },
    exportedAt: new Date().toISOString(),
  });
  return { variants: results, deployed, deployedFile: join(opts.outDir, DEPLOYED_FILE), reference: referenceName };
}

export function formatTable(results: VariantResult[], deployed?: Variant): string {
  const rows = [["variant", "size", "max |curve diff|", "image PSNR"]];
  for (const r of results) {
    rows.push([
      r.variant + (r.variant === deployed ? " *" : ""),
      `${(r.bytes / 1024).toFixed(1)} KiB`,
      r.maxCurveDiff.toExponential(2),
      r.imagePsnr === Infinity ? "identical" : `${r.imagePsnr.toFixed(1)} dB`,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ")).join("\n");
}
