/**
 * What a training run does to the model it replaces: it starts from it (fine-tuning, unless
 * --from-scratch), gives the result a newer version that says where it came from, keeps a copy of it,
 * and shows both on the user's own photos through the served pipeline, so they can decide before
 * deploying.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { modelInfoFromMetadata, type ModelInfo } from "../../src/engine/model-info.ts";
import { readOnnxMetadata } from "../../src/engine/onnx-metadata.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { contactSheet } from "../lib/contact-sheet.ts";
import { createNodeEngine, initNodeCodecs } from "../lib/node-engine.ts";
import type { TrainImage } from "./data.ts";

export interface CurrentModel {
  info: ModelInfo;
  /** Its deployed .onnx. */
  onnx: string;
  /** Its weights, when they are beside it (what fine-tuning starts from). */
  weights: string | null;
}

/** The model in `outDir` (lowlight.onnx and its metadata), or null when there is none. */
export function currentModel(outDir: string): CurrentModel | null {
  const onnx = join(outDir, "lowlight.onnx");
  if (!existsSync(onnx)) return null;
  try {
    const info = modelInfoFromMetadata(readOnnxMetadata(new Uint8Array(readFileSync(onnx))));
    const weights = join(outDir, "lowlight.safetensors");
    return { info, onnx, weights: existsSync(weights) ? weights : null };
  } catch {
    return null; // not one of ours: nothing to fine-tune from or compare with
  }
}

/** The training settings a model's card records, which a fine-tuning run keeps unless told otherwise. */
export interface Recipe {
  size?: number;
  crop?: number;
  exposure?: number;
  patch?: number;
}

/** The recipe in `outDir`'s model-card.json; empty when there is none or it cannot be read. */
export function currentRecipe(outDir: string): Recipe {
  try {
    const card = JSON.parse(readFileSync(join(outDir, "model-card.json"), "utf8")) as {
      training?: { size?: unknown; crop?: unknown; losses?: { exposureLevel?: unknown; patch?: unknown } };
    };
    const t = card.training ?? {};
    const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined);
    return { size: n(t.size), crop: n(t.crop), exposure: n(t.losses?.exposureLevel), patch: n(t.losses?.patch) };
  } catch {
    return {};
  }
}

/** The version after `version`: the next patch, marked as made by this pipeline ("0.2.0" -> "0.2.1-finetuned"). */
export function nextVersion(version: string, how: "finetuned" | "trained"): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return `0.0.1-${how}`;
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}-${how}`;
}

/** Copies every model file of `outDir` (lowlight*, the card, the report) into `dest`; returns their names. */
export function keepReplaced(outDir: string, dest: string): string[] {
  mkdirSync(dest, { recursive: true });
  const names = readdirSync(outDir).filter((f) => /^(lowlight[.\w]*|model-card\.json|README\.md|training-[\w.-]+)$/.test(f));
  for (const f of names) copyFileSync(join(outDir, f), join(dest, f));
  return names;
}

export interface Comparison {
  /** input | replaced model | new model, one row per photo. */
  sheet: string;
  rows: Array<{ name: string; input: number; replaced: number; trained: number }>;
}

/** Both models through the served pipeline (defaults: strength and denoise auto) on `samples`. */
export async function compareModels(replacedOnnx: string, trainedOnnx: string, samples: TrainImage[], sheet: string): Promise<Comparison> {
  await initNodeCodecs();
  const [before, after] = [await createNodeEngine(replacedOnnx), await createNodeEngine(trainedOnnx)];
  const rows: Comparison["rows"] = [];
  const cells: RgbaImage[][] = [];
  const limits = { maxSourcePixels: 1 << 26, maxOutputPixels: 1 << 26, maxFullModePixels: 1 << 20 };
  for (const s of samples) {
    const input = toRgba(s);
    const png = await encode(input, "png");
    const run = async (engine: typeof before) => {
      const r = await engine.enhance(png, { fit: "scale-down", format: "png", strength: "auto", denoise: "auto", mode: "fast", orient: false, limits });
      return decode(r.bytes, "png");
    };
    const [old, trained] = [await run(before), await run(after)];
    rows.push({ name: s.name, input: meanBrightness(input), replaced: meanBrightness(old), trained: meanBrightness(trained) });
    cells.push([input, old, trained]);
  }
  writeFileSync(sheet, await encode(await contactSheet(cells), "png"));
  return { sheet, rows };
}

function toRgba(s: TrainImage): RgbaImage {
  const n = s.width * s.height;
  const data = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    data[i * 4] = Math.round(s.rgb[i * 3]! * 255);
    data[i * 4 + 1] = Math.round(s.rgb[i * 3 + 1]! * 255);
    data[i * 4 + 2] = Math.round(s.rgb[i * 3 + 2]! * 255);
    data[i * 4 + 3] = 255;
  }
  return { width: s.width, height: s.height, data };
}

/** Mean of R, G and B, 0-1. */
function meanBrightness(img: RgbaImage): number {
  let sum = 0;
  for (let i = 0; i < img.data.length; i += 4) sum += img.data[i]! + img.data[i + 1]! + img.data[i + 2]!;
  return sum / (img.data.length / 4) / 3 / 255;
}
