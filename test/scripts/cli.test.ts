import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { initNodeCodecs } from "../../scripts/lib/node-engine.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import { darkGradient } from "../helpers/fixtures.ts";

const run = promisify(execFile);
const tsx = (script: string, args: string[]) => run(process.execPath, ["--import", "tsx", script, ...args], { cwd: process.cwd() });

await initNodeCodecs();
const dir = mkdtempSync(join(tmpdir(), "lowlight-cli-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const low = join(dir, "low");
const high = join(dir, "high");
mkdirSync(low);
mkdirSync(high);
writeFileSync(join(low, "a.png"), await encode(darkGradient(40, 30), "png"));
writeFileSync(join(low, "b.jpg"), await encode(darkGradient(32, 48), "jpeg", { quality: 90 }));
writeFileSync(join(high, "a.png"), await encode(darkGradient(40, 30), "png"));
writeFileSync(join(high, "b.png"), await decode(new Uint8Array(readFileSync(join(low, "b.jpg"))), "jpeg").then((i) => encode(i, "png")));

test("enhance: one output per input, named after it, in the input's format unless --format", async () => {
  const out = join(dir, "out");
  const { stdout } = await tsx("scripts/enhance.ts", ["--strength", "0.5", low, "--out", out]);
  assert.deepEqual(readdirSync(out).sort(), ["a.png", "b.jpg"]);
  assert.match(stdout, /a\.png .* 40x30 .* strength 0\.50/);
  const { stdout: s2 } = await tsx("scripts/enhance.ts", ["--format", "png", "--width", "16", join(low, "b.jpg"), "--out", out]);
  assert.match(s2, /b\.png\s+16x24/);
  const png = await decode(new Uint8Array(readFileSync(join(out, "b.png"))), "png");
  assert.deepEqual([png.width, png.height], [16, 24]);
  await assert.rejects(tsx("scripts/enhance.ts", ["--mode", "slow", low, "--out", out]), /--mode must be fast or full/);
});

test("eval --outputs: identical images score SSIM 1 and infinite PSNR; JSON and contact sheet written", async () => {
  const json = join(dir, "r.json");
  const sheet = join(dir, "s.png");
  await tsx("scripts/eval.ts", ["--low", low, "--high", high, "--outputs", high, "--json", json, "--sheet", sheet]);
  const doc = JSON.parse(readFileSync(json, "utf8"));
  const outputs = doc.runs.find((r: { source: string }) => r.source === "outputs");
  assert.equal(outputs.images.length, 2);
  for (const img of outputs.images) assert.equal(img.ssim, 1);
  assert.equal(outputs.images[0].psnr, null); // Infinity in JSON
  assert.equal(outputs.mean.psnr, 60); // identical images count as 60 dB in means
  assert.equal(outputs.mean.identical, 2);
  // No pixel of these inputs is empty black, so the content mean is the mean.
  assert.equal(outputs.mean.contentMean, outputs.mean.mean);
  const s = await decode(new Uint8Array(readFileSync(sheet)), "png");
  assert.ok(s.width > 0 && s.height > 0);
});

test("eval: the content mean leaves out the empty black a curve cannot lift", async () => {
  const canvas = join(dir, "canvas");
  mkdirSync(canvas);
  // A 20x20 grey (128) square on a 60x20 black canvas: mean 128/3, content mean 128.
  const img = { width: 60, height: 20, data: new Uint8Array(60 * 20 * 4) };
  for (let y = 0; y < 20; y++) for (let x = 0; x < 60; x++) img.data.set(x >= 20 && x < 40 ? [128, 128, 128, 255] : [0, 0, 0, 255], (y * 60 + x) * 4);
  writeFileSync(join(canvas, "c.png"), await encode(img, "png"));
  const json = join(dir, "canvas.json");
  await tsx("scripts/eval.ts", ["--low", canvas, "--high", canvas, "--outputs", canvas, "--json", json]);
  const run = JSON.parse(readFileSync(json, "utf8")).runs.find((r: { source: string }) => r.source === "outputs");
  assert.ok(Math.abs(run.mean.mean - 128 / 255 / 3) < 1e-6, String(run.mean.mean));
  assert.ok(Math.abs(run.mean.contentMean - 128 / 255) < 1e-6, String(run.mean.contentMean));
});

test("eval --card: the model's scores and the command land in its model card's quality table", async () => {
  const cardDir = join(dir, "card");
  mkdirSync(cardDir);
  for (const f of ["lowlight.onnx", "model-card.json"]) writeFileSync(join(cardDir, f), readFileSync(join("model", f)));
  const before = (JSON.parse(readFileSync(join(cardDir, "model-card.json"), "utf8")).evaluation ?? []).length;
  const model = join(cardDir, "lowlight.onnx");
  await tsx("scripts/eval.ts", ["--low", low, "--high", high, "--model", model, "--card", cardDir, "--set", "tiny"]);
  const card = JSON.parse(readFileSync(join(cardDir, "model-card.json"), "utf8"));
  assert.equal(card.evaluation.length, before + 1);
  const e = card.evaluation.find((x: { set: string }) => x.set === "tiny");
  assert.equal(e.set, "tiny");
  assert.equal(e.images, 2);
  assert.equal(e.strength, "auto");
  assert.ok(Number.isFinite(e.psnr) && e.ssim > 0 && e.ssim <= 1);
  assert.match(e.command, /^npm run eval -- .*--card/);
  // Re-running the same set and settings replaces the row instead of adding one.
  await tsx("scripts/eval.ts", ["--low", low, "--high", high, "--model", model, "--card", cardDir, "--set", "tiny"]);
  assert.equal(JSON.parse(readFileSync(join(cardDir, "model-card.json"), "utf8")).evaluation.length, before + 1);
  assert.match(readFileSync(join(cardDir, "README.md"), "utf8"), /## Quality[\s\S]*\| tiny \|/);
});


test("bench:train times the training step and prints the table; bad flags are usage errors", async () => {
  const { stdout } = await tsx("scripts/bench-train.ts", ["--archs", "lite", "--size", "16", "--batch", "2", "--steps", "2", "--warmup", "0", "--backend", "wasm", "--threads", "2"]);
  const row = /\| lite \| 10,561 \| TF\.js [\d.]+ \(wasm, 2 threads\) \| ([\d.]+) \| ([\d.]+) \| 1 \|/.exec(stdout);
  assert.ok(row, stdout);
  assert.ok(Number(row[1]) > 0 && Number(row[2]) <= Number(row[1]));
  await assert.rejects(tsx("scripts/bench-train.ts", ["--archs", "resnet"]), /--archs takes dce and\/or lite/);
  await assert.rejects(tsx("scripts/bench-train.ts", ["--steps", "0"]), /--steps/);
  await assert.rejects(tsx("scripts/bench-train.ts", ["--threads", "9"]), /--threads must be from 1 to 8, got 9/);
});

test("screenshot: the output must be .jpg or .png, and one input is required", async () => {
  await assert.rejects(tsx("scripts/screenshot.ts", [join(low, "a.png"), "--out", join(dir, "shot.gif")]), /--out must end in \.jpg or \.png/);
  await assert.rejects(tsx("scripts/screenshot.ts", ["--out", join(dir, "shot.png")]), /give one INPUT/);
});

test("phone-night: --clean writes noise-free night shots at --exposure, the same twice; a bad --exposure is a usage error", async () => {
  const photos = join(dir, "flat");
  mkdirSync(photos);
  // A flat grey photo: without noise its night shot is one flat colour (the JPEG keeps a flat block exactly).
  writeFileSync(join(photos, "grey.png"), await encode({ width: 48, height: 32, data: new Uint8Array(48 * 32 * 4).fill(160) }, "png"));
  const shots: Uint8Array[] = [];
  for (const out of ["pn1", "pn2"]) {
    await tsx("scripts/phone-night.ts", ["--photos", photos, "--out", join(dir, out), "--clean", "--exposure", "0.05"]);
    shots.push(new Uint8Array(readFileSync(join(dir, out, "low", "grey.jpg"))));
  }
  assert.deepEqual(shots[0], shots[1], "reproducible");
  const shot = await decode(shots[0]!, "jpeg");
  const greens = new Set<number>();
  for (let p = 1; p < shot.data.length; p += 4) greens.add(shot.data[p]!);
  assert.equal(greens.size, 1, `one level, no noise (${[...greens].join(", ")})`);
  // 5% of 160/255 in linear light: about 0.016 linear, about 34 in sRGB.
  assert.ok([...greens][0]! > 25 && [...greens][0]! < 45, `the level of a 5% exposure: ${[...greens][0]}`);
  // Without --clean the same exposure is noisy.
  await tsx("scripts/phone-night.ts", ["--photos", photos, "--out", join(dir, "pn3"), "--exposure", "0.05"]);
  const noisy = await decode(new Uint8Array(readFileSync(join(dir, "pn3", "low", "grey.jpg"))), "jpeg");
  const noisyGreens = new Set<number>();
  for (let p = 1; p < noisy.data.length; p += 4) noisyGreens.add(noisy.data[p]!);
  assert.ok(noisyGreens.size > 3, "sensor noise without --clean");
  await assert.rejects(tsx("scripts/phone-night.ts", ["--photos", photos, "--out", join(dir, "pn4"), "--exposure", "5"]), /--exposure must be a number in 0\.001\.\.1, got "5"/);
});
