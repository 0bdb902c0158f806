/**
 * npm run import-weights -- FILE --out model.onnx: one ONNX file from a Zero-DCE / Zero-DCE++
 * state_dict (.safetensors, or PyTorch .pth in zip or legacy format; pickled code is never run),
 * verified against the TF.js model built from the same weights.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { DEFAULT_ESTIMATION_SIZE, type Variant } from "../src/engine/model-info.ts";
import { loadWeightsFile } from "./weights-io/load-weights.ts";
import { exportVariant, formatTable, VARIANTS } from "./onnx/export-model.ts";
import { compareForwards, onnxForward, sampleInputs } from "./onnx/verify.ts";
import { tfReference } from "./onnx/tf-reference.ts";
import { parseCli, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run import-weights -- FILE --out model.onnx [options]

Reads a Zero-DCE or Zero-DCE++ state_dict from FILE (.safetensors, or a PyTorch .pth: the zip format
of torch >= 1.6 or the legacy format; only the pickle opcodes a state_dict needs are interpreted,
nothing in the file is executed), detects the architecture, writes one ONNX model and checks it
against the TF.js model on sample inputs.

Options:
  --out FILE              ONNX file to write (required)
  --variant fp32|fp16|int8  weight storage (default: fp32)
  --estimation-size N     longer side the curves are estimated at in fast mode (default: ${DEFAULT_ESTIMATION_SIZE})
  --name NAME             model name (default: the input file's name)
  --version V             model version (default: imported)
  --provenance TEXT       (default: "imported from FILE (format, sha256)")
  -h, --help              this text`;

const fail: Fail = usageError("import-weights");

async function main(): Promise<void> {
  const { values, positionals } = parseCli("import-weights", HELP, {
    allowPositionals: true,
    options: {
      out: { type: "string" },
      variant: { type: "string", default: "fp32" },
      "estimation-size": { type: "string" },
      name: { type: "string" },
      version: { type: "string", default: "imported" },
      provenance: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals.length !== 1) fail(`expected exactly one weights FILE, got ${positionals.length}`);
  if (!values.out) fail("--out FILE is required");
  const variant = values.variant as Variant;
  if (!VARIANTS.includes(variant)) fail(`--variant must be one of ${VARIANTS.join(", ")}, got "${values.variant}"`);
  let estimationSize = DEFAULT_ESTIMATION_SIZE;
  if (values["estimation-size"] !== undefined) {
    estimationSize = Number(values["estimation-size"]);
    if (!Number.isInteger(estimationSize) || estimationSize <= 0) fail(`--estimation-size must be a positive integer, got "${values["estimation-size"]}"`);
  }
  const file = positionals[0]!;
  const loaded = loadWeightsFile(file);
  const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
  console.log(`read ${file}: ${loaded.format}, arch ${loaded.arch}, ${loaded.weights.size} tensors`);
  const bytes = exportVariant(loaded.weights, loaded.arch, {
    name: values.name ?? basename(file).replace(/\.[^.]+$/, ""),
    version: values.version!,
    estimationSize,
    provenance: values.provenance ?? `imported from ${basename(file)} (${loaded.format}, sha256 ${sha.slice(0, 16)})`,
    extra: {},
  }, variant);

  const reference = await tfReference(loaded.arch, loaded.weights);
  const session = await onnxForward(bytes);
  try {
    const metrics = await compareForwards(session.forward, reference.forward, sampleInputs());
    console.log(`verified against ${reference.name}:`);
    console.log(formatTable([{ variant, file: values.out, bytes: bytes.length, sha256: "", ...metrics }]));
    if (variant === "fp32" && !(metrics.maxCurveDiff <= 1e-3)) throw new Error(`fp32 ONNX differs from the TF.js model by ${metrics.maxCurveDiff}: not written`);
  } finally {
    await session.release();
    reference.dispose();
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, bytes);
  console.log(`wrote ${values.out} (${loaded.arch}, ${variant}, ${bytes.length} bytes)`);
}

main().catch((e: unknown) => {
  console.error(`import-weights: ${(e as Error).message}`);
  process.exit(1);
});
