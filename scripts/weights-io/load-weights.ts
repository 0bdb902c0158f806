/**
 * Reads a DCE-Net state_dict from a .safetensors or PyTorch .pth file (told apart by content, not by
 * extension), strips DataParallel's `module.` prefix and detects the architecture.
 */
import { readFileSync } from "node:fs";
import { detectArch, type Arch, type Weights } from "../lib/network.ts";
import { readSafetensors } from "./safetensors.ts";
import { isZip, readPth } from "./torch-pth.ts";

export interface LoadedWeights {
  weights: Weights;
  arch: Arch;
  format: "safetensors" | "pth-zip" | "pth-legacy";
}

/** safetensors starts with a u64 header length followed by "{"; .pth is a zip or starts with pickle PROTO. */
export function sniffWeightsFormat(bytes: Uint8Array): LoadedWeights["format"] {
  if (isZip(bytes)) return "pth-zip";
  if (bytes.length >= 9 && bytes[8] === 0x7b) return "safetensors";
  if (bytes[0] === 0x80) return "pth-legacy";
  throw new Error("unrecognised weights file: expected .safetensors or a PyTorch .pth (zip or legacy)");
}

export function stripModulePrefix(weights: Weights): Weights {
  const keys = [...weights.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith("module."))) return weights;
  return new Map([...weights].map(([k, v]) => [k.slice("module.".length), v]));
}

/** Training snapshots also carry Adam's state (`optimizer.*`); only the network's parameters matter here. */
export function dropTrainingState(weights: Weights): Weights {
  if (![...weights.keys()].some((k) => k.startsWith("optimizer."))) return weights;
  return new Map([...weights].filter(([k]) => !k.startsWith("optimizer.")));
}

export function parseWeights(bytes: Uint8Array, arch?: Arch): LoadedWeights {
  const format = sniffWeightsFormat(bytes);
  const raw = format === "safetensors" ? readSafetensors(bytes) : readPth(bytes);
  const weights = dropTrainingState(stripModulePrefix(raw));
  const detected = detectArch(weights);
  if (arch && arch !== detected) throw new Error(`--arch ${arch} given, but the weights are ${detected}`);
  return { weights, arch: detected, format };
}

export function loadWeightsFile(path: string, arch?: Arch): LoadedWeights {
  try {
    return parseWeights(readFileSync(path), arch);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
}
