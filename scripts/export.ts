/**
 * npm run export -- --weights FILE [options]: writes the fp32/fp16/int8 ONNX variants, verifies them
 * against the TF.js model, deploys one as lowlight.onnx and writes the model card.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { ARCHES, type Arch } from "./lib/network.ts";
import { DEFAULT_ESTIMATION_SIZE, type Variant } from "../src/engine/model-info.ts";
import { loadWeightsFile } from "./weights-io/load-weights.ts";
import { DEFAULT_DEPLOY, exportModel, MIN_DEPLOY_PSNR_DB, VARIANTS, weightsDigest } from "./onnx/export-model.ts";
import { tfReference } from "./onnx/tf-reference.ts";
import { BACKEND_CHOICES, type BackendChoice } from "./tf/backend.ts";
import { readCard } from "./lib/model-card.ts";
import { oneOf, parseCli, positiveInt, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run export -- --weights FILE [options]

Exports DCE-Net weights (.safetensors, or a PyTorch .pth in zip or legacy format) as
lowlight.fp32.onnx, lowlight.fp16.onnx and lowlight.int8.onnx, verifies each against the TF.js
model on sample inputs, copies the deployed one to lowlight.onnx and writes model-card.json + README.md.

Options:
  --weights FILE          state_dict to export (required)
  --arch dce|lite         architecture (default: detected from the weights)
  --out DIR               output folder (default: model)
  --deploy int8|fp16|fp32 variant copied to lowlight.onnx (default: ${DEFAULT_DEPLOY}, or fp16 if int8
                          verifies below ${MIN_DEPLOY_PSNR_DB} dB)
  --estimation-size N     longer side the curves are estimated at in fast mode (default: ${DEFAULT_ESTIMATION_SIZE})
  --name NAME             model name (default: lowlight-edge)
  --version V             model version (default: 0.1.0)
  --provenance TEXT       where the weights come from (default: the file name and its sha256)
When DIR's model card describes the same weights (a re-export), its name, version, estimation size,
provenance and training section are kept unless overridden.
  --backend B             TF.js backend for the reference: ${BACKEND_CHOICES.join("|")} (default: auto)
  -h, --help              this text`;

const fail: Fail = usageError("export");

async function main(): Promise<void> {
  const { values } = parseCli("export", HELP, {
    options: {
      weights: { type: "string" },
      arch: { type: "string" },
      out: { type: "string", default: "model" },
      deploy: { type: "string" },
      "estimation-size": { type: "string" },
      name: { type: "string" },
      version: { type: "string" },
      provenance: { type: "string" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (!values.weights) fail("--weights FILE is required");
  const arch = oneOf<Arch>(values.arch, ARCHES, "--arch", fail);
  const deploy = oneOf<Variant>(values.deploy, VARIANTS, "--deploy", fail);
  const backend = oneOf<BackendChoice>(values.backend, BACKEND_CHOICES, "--backend", fail) ?? "auto";
  const outDir = values.out!;
  const loaded = loadWeightsFile(values.weights, arch);
  const sha = createHash("sha256").update(readFileSync(values.weights)).digest("hex");
  console.log(`read ${values.weights}: ${loaded.format}, arch ${loaded.arch}, ${loaded.weights.size} tensors`);
  // Re-exporting the weights the card already describes keeps its details; other weights start afresh.
  const previous = readCard(outDir);
  const card = previous?.weightsSha256 === weightsDigest(loaded.weights, loaded.arch) ? previous : undefined;
  if (previous && !card) console.log(`${outDir}/model-card.json describes other weights: its details are replaced`);
  const reference = await tfReference(loaded.arch, loaded.weights, backend);
  try {
    await exportModel({
      weights: loaded.weights,
      arch: loaded.arch,
      outDir,
      deploy,
      reference: reference.forward,
      referenceName: reference.name,
      info: {
        name: values.name ?? card?.name ?? "lowlight-edge",
        version: values.version ?? card?.version ?? "0.1.0",
        estimationSize: positiveInt(values["estimation-size"], "--estimation-size", fail) ?? card?.estimationSize ?? DEFAULT_ESTIMATION_SIZE,
        provenance: values.provenance ?? card?.provenance ?? `exported from ${basename(values.weights)} (${loaded.format}, sha256 ${sha.slice(0, 16)})`,
        extra: card?.extra ?? {},
      },
    });
  } finally {
    reference.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(`export: ${(e as Error).message}`);
  process.exit(1);
});
