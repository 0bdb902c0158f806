/**
 * Training snapshots: one safetensors file per snapshot step holding the weights (PyTorch names and
 * layout, so a snapshot is also a valid `--init`/export input), Adam's state (`optimizer.*`, in TF.js
 * layout, by parameter name) and the step and run settings in the metadata.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Weights } from "../lib/network.ts";
import { readSafetensorsFile, writeSafetensors } from "../weights-io/safetensors.ts";
import type { TfModel } from "./model.ts";

const PREFIX = "snapshot-";
const EXT = ".safetensors";
/** Snapshots kept in the run folder (older ones are deleted). */
export const KEEP_SNAPSHOTS = 3;

export const snapshotName = (step: number): string => `${PREFIX}${String(step).padStart(7, "0")}${EXT}`;

/** All snapshots of a run folder, oldest first. */
export function listSnapshots(runDir: string): { step: number; path: string }[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .filter((f) => f.startsWith(PREFIX) && f.endsWith(EXT))
    .map((f) => ({ step: Number(f.slice(PREFIX.length, -EXT.length)), path: join(runDir, f) }))
    .filter((s) => Number.isInteger(s.step))
    .sort((a, b) => a.step - b.step);
}

export function latestSnapshot(runDir: string): { step: number; path: string } | undefined {
  return listSnapshots(runDir).at(-1);
}

/** Writes snapshot `step` atomically (temp file + rename) and prunes old ones; returns its path. */
export async function saveSnapshot(
  runDir: string,
  step: number,
  model: TfModel,
  optimizer: tf.Optimizer,
  meta: Record<string, string>,
): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const tensors: Weights = model.getWeights();
  // Adam's state: [iterations, m_0..m_k, v_0..v_k] in model.variables order.
  const state = await optimizer.getWeights();
  const k = model.variableNames.length;
  if (state.length === 2 * k + 1) {
    const iter = state[0]!.tensor;
    tensors.set("optimizer.iterations", { shape: [1], data: Float32Array.from(await iter.data()) });
    for (let i = 0; i < k; i++) {
      for (const [slot, off] of [["m", 1], ["v", 1 + k]] as const) {
        const t = state[off + i]!.tensor;
        tensors.set(`optimizer.${slot}.${model.variableNames[i]}`, { shape: [...t.shape], data: new Float32Array(await t.data()) });
      }
    }
  }
  const bytes = writeSafetensors(tensors, { ...meta, step: String(step), format: "lowlight-edge training snapshot" });
  const path = join(runDir, snapshotName(step));
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  const all = listSnapshots(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - KEEP_SNAPSHOTS))) rmSync(old.path, { force: true });
  return path;
}

export interface LoadedSnapshot {
  step: number;
  meta: Record<string, string>;
  /** Whether Adam's state was restored (snapshots written after the first step have it). */
  optimizerRestored: boolean;
}

/** Restores weights and optimizer state from a snapshot into `model` and `optimizer`. */
export async function loadSnapshot(path: string, model: TfModel, optimizer: tf.Optimizer): Promise<LoadedSnapshot> {
  const { weights, metadata } = readSafetensorsFile(new Uint8Array(readFileSync(path)));
  const step = Number(metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${path} is not a training snapshot (no step in its metadata)`);
  // setWeights checks every parameter is present with its shape; the optimizer entries are ignored.
  model.setWeights(weights);
  const iter = weights.get("optimizer.iterations");
  let optimizerRestored = false;
  if (iter) {
    const list: { name: string; tensor: tf.Tensor }[] = [{ name: "iter", tensor: tf.scalar(iter.data[0]!, "int32") }];
    for (const slot of ["m", "v"]) {
      for (const n of model.variableNames) {
        const t = weights.get(`optimizer.${slot}.${n}`);
        if (!t) throw new Error(`${path} lacks optimizer state "optimizer.${slot}.${n}"`);
        list.push({ name: `${n}/${slot}`, tensor: tf.tensor(t.data, t.shape) });
      }
    }
    // Adam turns these tensors into its own variables: they are not disposed here.
    await optimizer.setWeights(list);
    optimizerRestored = true;
  }
  return { step, meta: metadata, optimizerRestored };
}
