// The user's workflow end to end, `npm run train && wrangler deploy`, on a copy of the project as a fresh
// clone has it: a tiny run trains and exports into the copy's model/, the dry-run bundle of the copy
// carries that model (its sha256 in /health, its curves on /enhance), and this repository's shipped
// model is untouched.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildWorker, startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { darkScene, decodeAny, encodePng, initFixtures, meanLuma } from "../helpers/fixtures.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

let tmp: string;
let clone: string;
let worker: StartedWorker | undefined;
let shippedSha: string;
let trainOutput = "";

describe("npm run train && wrangler deploy", () => {
  before(async () => {
    await initFixtures();
    shippedSha = sha256(join(ROOT, "model", "lowlight.onnx"));
    tmp = mkdtempSync(join(tmpdir(), "train-deploy-"));
    clone = join(tmp, "lowlight-edge");
    mkdirSync(clone);
    // What a clone holds (git ls-files would list the same top level); node_modules as `npm ci` left it.
    for (const entry of ["package.json", "package-lock.json", "tsconfig.json", "wrangler.toml", "src", "scripts", "model"]) {
      cpSync(join(ROOT, entry), join(clone, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"), "dir");
    const data = join(tmp, "photos");
    mkdirSync(data);
    for (let i = 0; i < 4; i++) {
      const img = darkScene(40 + 8 * i, 32);
      writeFileSync(join(data, `dark${i}.png`), await encodePng(img));
    }
    // The documented command, with flags for a run of seconds; the default --out is the clone's model/.
    const args = ["run", "train", "--", "--data", data, "--steps", "3", "--size", "32", "--batch", "2", "--lr", "1e-2", "--backend", "wasm", "--samples", "1", "--snapshot-every", "0", "--seed", "7"];
    const r = await promisify(execFile)("npm", args, { cwd: clone, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 16 << 20 });
    trainOutput = r.stdout + r.stderr;
  });
  after(async () => {
    await worker?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("trains into the clone's model/ and leaves this repository's model alone", () => {
    assert.match(trainOutput, /done: 3 steps/);
    assert.match(trainOutput, /verified against the trained TF.js model/);
    const card = JSON.parse(readFileSync(join(clone, "model", "model-card.json"), "utf8"));
    assert.equal(card.training.steps, 3);
    assert.notEqual(sha256(join(clone, "model", "lowlight.onnx")), shippedSha, "the run exported a new model");
    assert.equal(sha256(join(ROOT, "model", "lowlight.onnx")), shippedSha);
  });

  it("improves the model it replaces: fine-tuned from it, a newer version saying so, the old one kept, both shown", () => {
    const shipped = JSON.parse(readFileSync(join(ROOT, "model", "model-card.json"), "utf8")) as { name: string; version: string };
    const was = `${shipped.name}@${shipped.version}`;
    assert.match(trainOutput, new RegExp(`fine-tuning the current model, ${was.replace(/[.]/g, "\\.")}`));
    const card = JSON.parse(readFileSync(join(clone, "model", "model-card.json"), "utf8")) as { version: string; provenance: string; training: { fineTunedFrom?: string } };
    const [major, minor, patch] = shipped.version.split(/[.-]/).map(Number);
    assert.equal(card.version, `${major}.${minor}.${patch! + 1}-finetuned`, "newer than the model it replaced, and says how it was made");
    assert.match(card.provenance, new RegExp(`^fine-tuned from ${was.replace(/[.]/g, "\\.")}`));
    assert.equal(card.training.fineTunedFrom, was);
    // The replaced model is kept, byte for byte, where the output says.
    const kept = join(clone, "runs", "lite-32", "replaced-model");
    assert.match(trainOutput, /is kept in .*replaced-model/);
    assert.equal(sha256(join(kept, "lowlight.onnx")), shippedSha);
    // Both models on the user's photos, through the served pipeline.
    assert.match(trainOutput, /compare \(mean brightness/);
    const sheet = readFileSync(join(clone, "runs", "lite-32", "compare.png"));
    assert.deepEqual([...sheet.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  it("the dry-run bundle carries the new model: /health names its sha256 and /enhance runs it", async () => {
    const dir = await buildWorker(clone);
    const trainedSha = sha256(join(clone, "model", "lowlight.onnx"));
    const models = readdirSync(dir).filter((f) => f.endsWith(".onnx"));
    assert.deepEqual(models.map((f) => sha256(join(dir, f))), [trainedSha], "the bundle holds exactly the trained model");
    worker = await startWorker({ root: clone });
    const health = (await (await fetch(`${worker.url}/health`)).json()) as { model: { sha256: string; name: string } };
    assert.equal(health.model.sha256, trainedSha);
    assert.notEqual(health.model.sha256, shippedSha);

    const input = darkScene(64, 48);
    const res = await fetch(`${worker.url}/enhance?format=png`, { method: "POST", body: await encodePng(input), headers: { "content-type": "image/png" } });
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(res.headers.get("etag") ?? "", /.+/);
    const out = await decodeAny(new Uint8Array(await res.arrayBuffer()));
    assert.equal(out.width, 64);
    assert.ok(Number.isFinite(meanLuma(out)));
  });
});
