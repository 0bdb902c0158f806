/**
 * Bundle budget: the compressed upload that `wrangler deploy --dry-run` reports stays at most 8 MiB
 * (the Paid plan's limit is 10 MiB; the Free plan's 3 MiB is out of reach with ORT and four codecs).
 * The figure is printed, so a growing bundle is seen before it fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BUDGET_KIB = 8 * 1024;

test(`the dry-run bundle's compressed upload is at most ${BUDGET_KIB / 1024} MiB`, async () => {
  const outdir = await mkdtemp(join(tmpdir(), "lowlight-budget-"));
  try {
    const { stdout } = await promisify(execFile)(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
    });
    const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout);
    assert.ok(m, `wrangler printed no upload size:\n${stdout}`);
    const gzip = Number(m[2]);
    console.log(`# bundle: ${Number(m[1]).toFixed(0)} KiB, ${gzip.toFixed(0)} KiB compressed (${((gzip / BUDGET_KIB) * 100).toFixed(0)}% of the ${BUDGET_KIB / 1024} MiB budget)`);
    assert.ok(gzip <= BUDGET_KIB, `compressed upload ${gzip} KiB is over the ${BUDGET_KIB} KiB budget`);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
});
