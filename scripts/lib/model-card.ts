/**
 * The model card: `model-card.json` (machine-readable) and `README.md` rendered from it, next to the
 * exported files. Re-exporting without training details keeps the training section of the card
 * already there, so `npm run export` does not erase what `npm run train` recorded.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelInfo, Variant } from "../../src/engine/model-info.ts";
import { MODEL_INPUT, MODEL_OUTPUT } from "../../src/engine/model-info.ts";

/** Free-form training record from the trainer: data, steps, losses, command... */
export type TrainingSection = Record<string, unknown>;

/** One measured row of the card's quality table, with the command that reproduces it. */
export interface EvaluationEntry {
  /** What was scored, e.g. "LOL eval15" or "well-exposed (photos-cc held out), output vs input". */
  set: string;
  variant: string;
  mode: string;
  strength: string;
  denoise: string;
  psnr: number;
  ssim: number;
  /** Mean brightness of the outputs. */
  mean: number;
  /** Worst image's PSNR (identical images count as the cap). */
  minPsnr: number;
  /**
   * With --at-reference-gain: PSNR and SSIM after matching each output's brightness to its reference
   * (one gain), and the median chroma noise as a ratio to the reference's own (1 = as clean).
   */
  atRefGain?: { psnr: number; ssim: number; chroma: number };
  /** JPEG blocking of the outputs (mean of blockiness: 1 = none); absent in entries made before it was measured. */
  blocks?: number;
  images: number;
  command: string;
}

export interface VariantEntry {
  variant: Variant;
  file: string;
  bytes: number;
  sha256: string;
  /** Largest |curve difference| from the reference on the verification samples. */
  maxCurveDiff: number;
  /** Worst PSNR (dB) of the enhanced sample images against the reference's; "inf" when identical. */
  imagePsnrDb: number | "inf";
}

export interface ModelCard {
  name: string;
  version: string;
  architecture: {
    arch: ModelInfo["arch"];
    description: string;
    parameters: number;
    iterations: number;
    curveMaps: number;
    input: string;
    output: string;
  };
  estimationSize: number;
  provenance: string;
  /** sha256 of the fp32 parameters in state_dict order: tells a re-export of the same weights. */
  weightsSha256: string;
  extra: Record<string, string>;
  training?: TrainingSection;
  /** Quality measured by `npm run eval -- ... --card DIR`; kept across re-exports of the same weights. */
  evaluation?: EvaluationEntry[];
  verification: { reference: string; samples: string };
  variants: VariantEntry[];
  deployed: { variant: Variant; file: string; sha256: string; why: string };
  exportedAt: string;
}

export const CARD_JSON = "model-card.json";
export const CARD_README = "README.md";

export function readCard(outDir: string): ModelCard | undefined {
  const path = join(outDir, CARD_JSON);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ModelCard;
  } catch {
    return undefined; // a broken card is replaced, not fatal to an export
  }
}

export function describeArch(arch: ModelInfo["arch"]): string {
  return arch === "dce"
    ? "DCE-Net (Zero-DCE): 7 conv 3x3 layers, 32 channels, ReLU, skip concatenations, tanh -> 8 RGB curve maps"
    : "DCE-Net lite (Zero-DCE++): depthwise 3x3 + pointwise 1x1 convolutions, tanh -> 1 RGB curve map applied 8 times";
}

/**
 * Writes both files. `training` undefined keeps the previous card's training section when the card
 * describes the same weights (a re-export); a card for other weights is replaced entirely.
 */
export function writeCard(outDir: string, card: ModelCard): ModelCard {
  const previous = readCard(outDir);
  const same = previous?.weightsSha256 === card.weightsSha256;
  const merged: ModelCard = card.training === undefined && same ? { ...card, training: previous?.training } : { ...card };
  if (merged.training === undefined) delete merged.training;
  if (merged.evaluation === undefined && same && previous?.evaluation) merged.evaluation = previous.evaluation;
  writeFileSync(join(outDir, CARD_JSON), JSON.stringify(merged, null, 2) + "\n");
  writeFileSync(join(outDir, CARD_README), renderCard(merged));
  return merged;
}

const fmtBytes = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

export function renderCard(card: ModelCard): string {
  const a = card.architecture;
  const lines = [
    `# ${card.name} ${card.version}`,
    "",
    `${a.description}.`,
    "",
    "| | |",
    "|---|---|",
    `| Architecture | \`${a.arch}\` |`,
    `| Parameters | ${a.parameters.toLocaleString("en-US")} |`,
    `| Curve maps x iterations | ${a.curveMaps} x ${a.iterations} |`,
    `| Estimation size (fast mode, longer side) | ${card.estimationSize} px |`,
    `| Input | ${a.input} |`,
    `| Output | ${a.output} |`,
    `| Provenance | ${card.provenance.replace(/\|/g, "\\|")} |`,
    `| Weights sha256 (fp32, state_dict order) | \`${card.weightsSha256.slice(0, 16)}...\` |`,
    ...Object.entries(card.extra).map(([k, v]) => `| ${k} | ${v} |`),
    "",
    "## Variants",
    "",
    `Verified with onnxruntime-web against ${card.verification.reference} on ${card.verification.samples}.`,
    "",
    "| Variant | File | Size | max abs curve diff | enhanced-image PSNR | sha256 |",
    "|---|---|---|---|---|---|",
    ...card.variants.map((v) => {
      const deployed = v.variant === card.deployed.variant ? " (deployed)" : "";
      const db = v.imagePsnrDb === "inf" ? "identical" : `${v.imagePsnrDb.toFixed(1)} dB`;
      return `| ${v.variant}${deployed} | \`${v.file}\` | ${fmtBytes(v.bytes)} | ${v.maxCurveDiff.toExponential(2)} | ${db} | \`${v.sha256.slice(0, 16)}...\` |`;
    }),
    "",
    `Deployed: \`${card.deployed.file}\` = ${card.deployed.variant} (sha256 \`${card.deployed.sha256}\`). ${card.deployed.why}`,
    "",
  ];
  if (card.evaluation?.length) {
    lines.push(
      "## Quality",
      "",
      "Measured through the serving pipeline (`npm run eval`; PSNR/SSIM as scikit-image on full-resolution RGB; identical images count as 60 dB).",
      "",
      "| Set | Variant | Mode | strength / denoise | PSNR dB | SSIM | mean brightness | worst PSNR | brightness-matched PSNR / SSIM | chroma noise | JPEG blocking | images |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...card.evaluation.map((e) => {
        const m = e.atRefGain ? `${e.atRefGain.psnr.toFixed(2)} / ${e.atRefGain.ssim.toFixed(3)}` : "";
        const c = e.atRefGain ? e.atRefGain.chroma.toFixed(2) : "";
        const b = e.blocks !== undefined ? e.blocks.toFixed(2) : "";
        return `| ${e.set} | ${e.variant} | ${e.mode} | ${e.strength} / ${e.denoise} | ${e.psnr.toFixed(2)} | ${e.ssim.toFixed(3)} | ${e.mean.toFixed(3)} | ${e.minPsnr.toFixed(2)} | ${m} | ${c} | ${b} | ${e.images} |`;
      }),
      "",
      "Brightness-matched: each output scaled by the one gain that best matches its reference (`--at-reference-gain`), a diagnostic apart from the brightness choice; chroma noise: the median ratio of high-frequency Cb/Cr energy to the reference's own (1 = as clean); JPEG blocking: the mean luma step across 8 px block boundaries over the step inside blocks (1 = none).",
      "",
      "Commands:",
      "",
      ...[...new Set(card.evaluation.map((e) => e.command))].map((c) => `- \`${c}\``),
      "",
    );
  }
  if (card.training) {
    lines.push("## Training", "", "```json", JSON.stringify(card.training, null, 2), "```", "");
  }
  lines.push(`Exported ${card.exportedAt}. Generated with \`${CARD_JSON}\` by \`npm run export\` / \`npm run train\`.`, "");
  return lines.join("\n");
}

export const IO_DESCRIPTION = {
  input: `\`${MODEL_INPUT}\` float32 [1, 3, height, width], RGB in [0, 1]`,
  output: (channels: number) => `\`${MODEL_OUTPUT}\` float32 [1, ${channels}, height, width], in [-1, 1]`,
};
