/**
 * npm run eval -- --low DIR --high DIR [options]: PSNR, SSIM and mean brightness of a model's outputs
 * (run through the Worker's pipeline code) or of existing output images, against references.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { createNodeEngine, DEFAULT_MODEL, initNodeCodecs } from "./lib/node-engine.ts";
import { expandInputs, formatOfPath } from "./lib/image-files.ts";
import { CLI_LIMITS, parseDenoise, parseMode, parseStrength } from "./lib/cli-options.ts";
import { parseCli, usageError, type Fail } from "./lib/cli.ts";
import { atReferenceGain, blockiness, chromaNoiseRatio, grayWorldDeviation, meanBrightness, psnr, ssim } from "./lib/metrics.ts";
import { contactSheet } from "./lib/contact-sheet.ts";
import { CARD_JSON, readCard, writeCard, type EvaluationEntry } from "./lib/model-card.ts";
import { decode, encode } from "../src/image/codecs.ts";
import { fitSize, resizeImage } from "../src/image/resize.ts";
import { sniffFormat } from "../src/image/sniff.ts";
import { contentMask } from "../src/image/auto-strength.ts";
import { MAX_STRENGTH } from "../src/image/curves.ts";
import type { DenoiseOption } from "../src/image/noise.ts";
import type { RgbaImage } from "../src/shared/image.ts";

const HELP = `Usage: npm run eval -- --low DIR --high DIR [options]

Scores enhanced images against references (pairs matched by file name; LOL eval15 is
../shared/datasets/lol-eval15/{low,high}): PSNR and SSIM on full-resolution RGB in [0,1] (SSIM as
scikit-image structural_similarity(channel_axis=2, data_range=1)), and mean brightness and gray-world deviation
("cast", see scripts/lib/metrics.ts) and JPEG blocking ("blocks": the luma step across 8 px block
boundaries over the step inside blocks, 1 = none), per image and mean (identical images, PSNR infinite, count as 60 dB in means). The input itself (low vs high) is
scored as a baseline row.

Options:
  --low DIR              low-light inputs (required unless only --outputs is scored)
  --high DIR             references (required)
  --model FILE[,FILE]    model(s) to run through the pipeline; repeatable (default: model/lowlight.onnx
                         unless --outputs is given)
  --outputs DIR          score existing output images in DIR (same file names, any of .png/.jpg);
                         repeatable
  --mode fast|full       how curves are estimated (default: fast)
  --strength S|auto      curve strength 0..1 or auto (default: auto, as served)
  --denoise D|auto|strong noise smoothing after the curves, 0..1, auto or strong (default: auto, as served)
  --auto-max-mean X      strength=auto brightens to at most this content mean, 1 = off (default: the
                         served AUTO_MAX_MEAN); for scoring configurations
  --auto-min-mean X      strength=auto lifts content the model's curves leave darker than this, 0 = off
                         (default: the served AUTO_MIN_MEAN)
  --auto-max-lift S      the highest strength (1..2) that lift may reach, 1 = off (default: the served
                         AUTO_MAX_LIFT)
  --at-reference-gain    also score each output scaled by the one gain that best matches its reference
                         (a diagnostic: a brightness miss, which no enhancer can know, apart from lost
                         structure and noise), with its chroma noise as a ratio to the reference's own
                         (1 = as clean; scripts/lib/metrics.ts chromaNoise)
  --json FILE            write all results as JSON
  --sheet FILE.png       contact sheet: one row per image, input | each run | reference
  --card DIR             record the scores of models in DIR in DIR's model card (quality table,
                         with this command), replacing an earlier row for the same set and settings
  --set NAME             the set's name in the card (default: the name of --low's parent folder)
  -h, --help             this text`;

const fail: Fail = usageError("eval");

interface ImageScore {
  file: string;
  psnr: number;
  ssim: number;
  mean: number;
  /** Mean brightness over the input's content only: black a curve cannot lift (luma <= 2/255) left out. */
  contentMean: number;
  /** Gray-world deviation (grayWorldDeviation). */
  cast: number;
  /** JPEG blocking of the output (blockiness: 1 = none). */
  blocks: number;
  ms?: number;
  /** With --at-reference-gain: the scores of the output scaled to the reference's brightness (atReferenceGain). */
  atRefGain?: { gain: number; psnr: number; ssim: number; chroma: number };
}
interface RunResult {
  label: string;
  source: "input" | "model" | "outputs";
  path?: string;
  model?: Record<string, unknown>;
  images: ImageScore[];
  mean: { psnr: number; ssim: number; mean: number; contentMean: number; ms?: number; minPsnr: number; identical: number; medianPsnr: number; maxMean: number; cast: number; blocks: number; atRefGain?: { psnr: number; ssim: number; chroma: number } };
}

const CELL = { w: 200, h: 140 };

async function readImage(path: string): Promise<RgbaImage> {
  const bytes = new Uint8Array(readFileSync(path));
  const format = sniffFormat(bytes);
  if (!format) throw new Error(`${path} is not a PNG or JPEG file`);
  return decode(bytes, format);
}

async function thumb(img: RgbaImage): Promise<RgbaImage> {
  const s = fitSize(img.width, img.height, CELL.w, CELL.h, "scale-down");
  return resizeImage(img, s.width, s.height);
}

/** `content`: the input's content mask (contentMask: pixels above the empty black of a canvas or a night sky). */
/** `withRefGain`: also score the output at the reference's brightness (--at-reference-gain). */
function score(file: string, out: RgbaImage, ref: RgbaImage, content: Uint8Array | undefined, withRefGain: boolean, ms?: number): ImageScore {
  if (out.width !== ref.width || out.height !== ref.height) {
    throw new Error(`${file}: output is ${out.width}x${out.height} but the reference is ${ref.width}x${ref.height}`);
  }
  const matched = withRefGain ? atReferenceGain(out, ref) : undefined;
  return {
    ...(matched ? { atRefGain: { gain: matched.gain, psnr: psnr(matched.image, ref), ssim: ssim(matched.image, ref), chroma: chromaNoiseRatio(matched.image, ref) } } : {}),
    file,
    psnr: psnr(out, ref),
    ssim: ssim(out, ref),
    mean: meanBrightness(out),
    contentMean: meanBrightness(out, content),
    cast: grayWorldDeviation(out),
    blocks: blockiness(out),
    ...(ms !== undefined ? { ms } : {}),
  };
}

/**
 * Identical images have infinite PSNR; for means they count as 60 dB (well below one 8-bit level of
 * error), so a set where most photos pass unchanged still has a finite, comparable mean.
 */
const PSNR_CAP = 60;

function summarise(images: ImageScore[]): RunResult["mean"] {
  const avg = (f: (s: ImageScore) => number) => images.reduce((a, s) => a + f(s), 0) / images.length;
  const capped = (s: ImageScore) => Math.min(PSNR_CAP, s.psnr);
  const m: RunResult["mean"] = {
    psnr: avg(capped),
    ssim: avg((s) => s.ssim),
    mean: avg((s) => s.mean),
    contentMean: avg((s) => s.contentMean),
    minPsnr: Math.min(...images.map(capped)),
    identical: images.filter((s) => s.psnr === Infinity).length,
    medianPsnr: median(images.map(capped)),
    maxMean: Math.max(...images.map((s) => s.mean)),
    cast: avg((s) => s.cast),
    blocks: avg((s) => s.blocks),
  };
  if (images.every((s) => s.ms !== undefined)) m.ms = avg((s) => s.ms!);
  if (images.every((s) => s.atRefGain)) {
    m.atRefGain = { psnr: avg((s) => Math.min(PSNR_CAP, s.atRefGain!.psnr)), ssim: avg((s) => s.atRefGain!.ssim), chroma: median(images.map((s) => s.atRefGain!.chroma)) };
  }
  return m;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? (Number.isFinite(c) ? c.toFixed(c > 100 ? 0 : 4) : String(c)) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

/** File in `dir` with the same stem as `file` and a PNG/JPEG extension, or undefined. */
function findByStem(dir: string, file: string): string | undefined {
  const stem = basename(file, extname(file));
  for (const ext of [extname(file), ".png", ".jpg", ".jpeg", ".PNG", ".JPG"]) {
    const p = join(dir, stem + ext);
    if (existsSync(p)) return p;
  }
  return undefined;
}

async function main(): Promise<void> {
  const { values } = parseCli("eval", HELP, {
    options: {
      low: { type: "string" },
      high: { type: "string" },
      model: { type: "string", multiple: true },
      outputs: { type: "string", multiple: true },
      mode: { type: "string", default: "fast" },
      strength: { type: "string", default: "auto" },
      denoise: { type: "string", default: "auto" },
      "auto-max-mean": { type: "string" },
      "auto-min-mean": { type: "string" },
      "auto-max-lift": { type: "string" },
      "at-reference-gain": { type: "boolean", default: false },
      json: { type: "string" },
      sheet: { type: "string" },
      card: { type: "string" },
      set: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (!values.high) fail("--high DIR is required");
  const outputsDirs = values.outputs ?? [];
  let models = (values.model ?? []).flatMap((m) => m.split(",")).filter((m) => m !== "");
  if (models.length === 0 && outputsDirs.length === 0) models = [DEFAULT_MODEL];
  if (models.length > 0 && !values.low) fail("--low DIR is required to run a model");
  const mode = parseMode(values.mode, fail);
  const strength = parseStrength(values.strength, fail);
  const denoise = parseDenoise(values.denoise, fail);
  const unit = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !(n >= 0 && n <= 1)) fail(`--${flag} must be a number in 0..1, got "${v}"`);
    return n;
  };
  const autoMaxMean = unit("auto-max-mean", values["auto-max-mean"]);
  const autoMinMean = unit("auto-min-mean", values["auto-min-mean"]);
  const liftFlag = values["auto-max-lift"];
  const autoMaxLift = liftFlag === undefined ? undefined : Number(liftFlag);
  if (autoMaxLift !== undefined && !(autoMaxLift >= 1 && autoMaxLift <= MAX_STRENGTH)) fail(`--auto-max-lift must be a number in 1..${MAX_STRENGTH}, got "${liftFlag}"`);
  const withRefGain = values["at-reference-gain"] === true;

  await initNodeCodecs();
  // Pairs: every image in high/ (or low/) that has a counterpart.
  const files = expandInputs([values.low ?? values.high]).map((p) => basename(p));
  const pairs: { file: string; low?: string; high: string }[] = [];
  for (const file of files) {
    const high = findByStem(values.high, file);
    if (!high) fail(`no reference for ${file} in ${values.high}`);
    pairs.push({ file, low: values.low ? join(values.low, file) : undefined, high });
  }

  const runs: RunResult[] = [];
  const sheetRows: (RgbaImage | undefined)[][] = pairs.map(() => []);
  const refs: RgbaImage[] = [];
  for (const p of pairs) refs.push(await readImage(p.high));

  // Each input's content mask, for the content means (as strength=auto reads it).
  const masks: (Uint8Array | undefined)[] = [];
  if (values.low) {
    const images: ImageScore[] = [];
    for (const [i, p] of pairs.entries()) {
      const low = await readImage(p.low!);
      masks[i] = contentMask(low);
      images.push(score(p.file, low, refs[i]!, masks[i], withRefGain));
      if (values.sheet) sheetRows[i]!.push(await thumb(low));
    }
    runs.push({ label: "input (low vs high)", source: "input", path: resolve(values.low), images, mean: summarise(images) });
  }

  for (const modelPath of models) {
    const engine = await createNodeEngine(modelPath);
    const images: ImageScore[] = [];
    for (const [i, p] of pairs.entries()) {
      const bytes = new Uint8Array(readFileSync(p.low!));
      const t = performance.now();
      // PNG output: lossless, so the scores are those of the 8-bit image the pipeline would encode.
      const r = await engine.enhance(bytes, {
        fit: "scale-down",
        format: "png",
        quality: 90,
        strength,
        denoise,
        mode,
        orient: true,
        limits: CLI_LIMITS,
        ...(autoMaxMean !== undefined ? { autoMaxMean } : {}),
        ...(autoMinMean !== undefined ? { autoMinMean } : {}),
        ...(autoMaxLift !== undefined ? { autoMaxLift } : {}),
      });
      const ms = performance.now() - t;
      const out = await decode(r.bytes, "png");
      images.push(score(p.file, out, refs[i]!, masks[i], withRefGain, ms));
      if (values.sheet) sheetRows[i]!.push(await thumb(out));
    }
    const m = engine.model;
    runs.push({ label: `${basename(modelPath)} (${m.arch} ${m.variant}, ${mode})`, source: "model", path: resolve(modelPath), model: { ...m }, images, mean: summarise(images) });
  }

  for (const dir of outputsDirs) {
    const images: ImageScore[] = [];
    for (const [i, p] of pairs.entries()) {
      const path = findByStem(dir, p.file);
      if (!path || !formatOfPath(path)) fail(`no output for ${p.file} in ${dir}`);
      const out = await readImage(path);
      images.push(score(p.file, out, refs[i]!, masks[i], withRefGain));
      if (values.sheet) sheetRows[i]!.push(await thumb(out));
    }
    runs.push({ label: `outputs ${dir}`, source: "outputs", path: resolve(dir), images, mean: summarise(images) });
  }

  const refMean = refs.reduce((a, r) => a + meanBrightness(r), 0) / refs.length;
  for (const run of runs) {
    console.log(`\n${run.label}`);
    const g = (s: ImageScore) => (withRefGain ? [s.atRefGain!.gain, s.atRefGain!.psnr, s.atRefGain!.ssim, s.atRefGain!.chroma] : []);
    const rows = run.images.map((s) => [s.file, s.psnr, s.ssim, s.mean, s.contentMean, s.cast, ...g(s), ...(s.ms !== undefined ? [s.ms] : [])]);
    const gm = run.mean.atRefGain ? ["", run.mean.atRefGain.psnr, run.mean.atRefGain.ssim, run.mean.atRefGain.chroma] : [];
    rows.push(["mean", run.mean.psnr, run.mean.ssim, run.mean.mean, run.mean.contentMean, run.mean.cast, ...gm, ...(run.mean.ms !== undefined ? [run.mean.ms] : [])]);
    const gh = withRefGain ? ["ref. gain", "PSNR at gain", "SSIM at gain", "chroma noise"] : [];
    console.log(table(["image", "PSNR dB", "SSIM", "mean", "content mean", "cast", ...gh, ...(run.mean.ms !== undefined ? ["ms"] : [])], rows));
  }
  console.log(`\nSummary (${pairs.length} images; references' mean brightness ${refMean.toFixed(4)})`);
  console.log(
    table(
      ["run", "PSNR dB", "median dB", "SSIM", "mean", "content mean", "max mean", "cast", "blocks", ...(withRefGain ? ["PSNR at ref. gain", "SSIM at ref. gain", "chroma noise (median)"] : [])],
      runs.map((r) => [r.label, r.mean.psnr, r.mean.medianPsnr, r.mean.ssim, r.mean.mean, r.mean.contentMean, r.mean.maxMean, r.mean.cast, r.mean.blocks, ...(r.mean.atRefGain ? [r.mean.atRefGain.psnr, r.mean.atRefGain.ssim, r.mean.atRefGain.chroma] : [])]),
    ),
  );

  if (values.json) {
    const doc = {
      convention: "RGB in [0,1] at full resolution; PSNR data_range 1; SSIM as skimage structural_similarity(channel_axis=2, data_range=1): 7x7 uniform window, K1 0.01, K2 0.03, sample covariance, 3-pixel border cropped, mean over channels",
      low: values.low ? resolve(values.low) : undefined,
      high: resolve(values.high),
      mode,
      strength,
      denoise,
      references: { mean: refMean },
      runs,
    };
    writeFileSync(values.json, JSON.stringify(doc, null, 1) + "\n");
    console.log(`\nwrote ${values.json}`);
  }
  if (values.card) recordInCard(values.card, values.set ?? basename(resolve(values.low ?? values.high, "..")), runs, { mode, strength, denoise });
  if (values.sheet) {
    for (const [i, row] of sheetRows.entries()) row.push(await thumb(refs[i]!));
    const sheet = await contactSheet(sheetRows, { cellWidth: CELL.w, cellHeight: CELL.h });
    writeFileSync(values.sheet, await encode(sheet, "png"));
    const cols = [...(values.low ? ["input"] : []), ...runs.filter((r) => r.source !== "input").map((r) => r.label), "reference"];
    console.log(`wrote ${values.sheet} (${sheet.width}x${sheet.height}; columns: ${cols.join(" | ")})`);
  }
}

/** Writes each model run whose file lives in `dir` into that model card's quality table. */
function recordInCard(dir: string, set: string, runs: RunResult[], how: { mode: string; strength: number | "auto"; denoise: DenoiseOption }): void {
  const card = readCard(dir);
  if (!card) fail(`--card ${dir}: no ${CARD_JSON} there`);
  const command = ["npm run eval --", ...process.argv.slice(2).map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a))].join(" ");
  const entries = card.evaluation ?? [];
  for (const run of runs) {
    if (run.source !== "model" || !run.path || resolve(dirname(run.path)) !== resolve(dir)) continue;
    const e: EvaluationEntry = {
      set,
      variant: String(run.model?.variant ?? basename(run.path)),
      mode: how.mode,
      strength: String(how.strength),
      denoise: String(how.denoise),
      psnr: run.mean.psnr,
      ssim: run.mean.ssim,
      mean: run.mean.mean,
      minPsnr: run.mean.minPsnr,
      ...(run.mean.atRefGain ? { atRefGain: { psnr: run.mean.atRefGain.psnr, ssim: run.mean.atRefGain.ssim, chroma: run.mean.atRefGain.chroma } } : {}),
      blocks: run.mean.blocks,
      images: run.images.length,
      command,
    };
    const same = (x: EvaluationEntry) => x.set === e.set && x.variant === e.variant && x.mode === e.mode && x.strength === e.strength && x.denoise === e.denoise;
    const i = entries.findIndex(same);
    if (i >= 0) entries[i] = e;
    else entries.push(e);
    console.log(`recorded in ${join(dir, CARD_JSON)}: ${set}, ${e.variant} ${e.mode}: ${e.psnr.toFixed(2)} dB / ${e.ssim.toFixed(3)}`);
  }
  writeCard(dir, { ...card, evaluation: entries });
}

await main();
