/**
 * Persistent derived images in R2 (Miniflare's R2), in the real Worker bundle with the Cache API off,
 * so every repeat has to come from R2: served without touching the origin, a new model's key misses,
 * a corrupt or foreign object is ignored and recomputed, and a failing R2 binding still serves (logged).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { darkScene, encodeJpeg, initFixtures } from "../helpers/fixtures.ts";
import { imageOrigin } from "../helpers/origin.ts";

let origin: Awaited<ReturnType<typeof imageOrigin>>;
let jpeg: Uint8Array;
const logs: string[] = [];
let withR2: StartedWorker;
let broken: StartedWorker;

before(async () => {
  await initFixtures();
  jpeg = await encodeJpeg(darkScene(64, 48));
  origin = await imageOrigin(() => jpeg);
  [withR2, broken] = await Promise.all([
    startWorker({ cache: false, vars: { ALLOW_PRIVATE_SOURCES: "true" }, r2Buckets: ["DERIVED"] }),
    // Fault injection: a DERIVED binding that is not a bucket makes every get/put throw.
    startWorker({ cache: false, vars: { ALLOW_PRIVATE_SOURCES: "true", DERIVED: "not-a-bucket" }, onLog: (l) => logs.push(l) }),
  ]);
});
after(async () => {
  await Promise.all([withR2?.dispose(), broken?.dispose()]);
  await origin?.close();
});

const url = (w: StartedWorker, path: string, extra = "") => `${w.url}/enhance?url=${encodeURIComponent(origin.url + path)}&w=32${extra}`;

async function get(u: string, headers: Record<string, string> = {}) {
  const res = await fetch(u, { headers });
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, new TextDecoder().decode(body.subarray(0, 200)));
  return { res, body };
}

async function until(f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out");
}

test("a repeat with the Cache API empty is served from R2 without touching the origin", async () => {
  const first = await get(url(withR2, "/r2.jpg"), { Accept: "image/webp" });
  assert.equal(origin.hits("/r2.jpg"), 1);
  const bucket = await withR2.mf.getR2Bucket("DERIVED");
  await until(async () => (await bucket.list()).objects.length > 0); // stored in waitUntil
  const second = await get(url(withR2, "/r2.jpg"), { Accept: "image/webp" });
  assert.equal(origin.hits("/r2.jpg"), 1, "the origin was not asked again");
  assert.deepEqual(second.body, first.body);
  assert.equal(second.res.headers.get("Content-Type"), "image/webp");
  assert.equal(second.res.headers.get("ETag"), first.res.headers.get("ETag"));
  assert.equal(second.res.headers.get("Vary"), "Accept");
  assert.equal(second.res.headers.get("X-Enhance-Cache"), "r2");
  // Another negotiated format is another key.
  await get(url(withR2, "/r2.jpg"), { Accept: "image/avif" });
  assert.equal(origin.hits("/r2.jpg"), 2);
});

test("objects of another model, of a wrong type or with corrupt bytes are never served: recomputed", async () => {
  const bucket = await withR2.mf.getR2Bucket("DERIVED");
  await get(url(withR2, "/tamper.jpg"));
  await until(async () => (await bucket.list()).objects.length >= 3);
  const objects = (await bucket.list({ include: ["customMetadata", "httpMetadata"] })).objects;
  for (const [i, tamper] of [
    (o: { key: string; customMetadata?: Record<string, string> }) => bucket.put(o.key, jpeg, { httpMetadata: { contentType: "image/jpeg" }, customMetadata: { ...o.customMetadata, model: "0".repeat(64) } }),
    (o: { key: string; customMetadata?: Record<string, string> }) => bucket.put(o.key, new TextEncoder().encode("<svg/>"), { httpMetadata: { contentType: "image/jpeg" }, customMetadata: o.customMetadata }),
    (o: { key: string; customMetadata?: Record<string, string> }) => bucket.put(o.key, jpeg, { httpMetadata: { contentType: "text/html" }, customMetadata: o.customMetadata }),
  ].entries()) {
    for (const o of objects) await tamper(o as never);
    const before = origin.hits("/tamper.jpg");
    const { res, body } = await get(url(withR2, "/tamper.jpg"));
    assert.equal(origin.hits("/tamper.jpg"), before + 1, `tampering ${i}: recomputed from the origin`);
    assert.equal(res.headers.get("Content-Type"), "image/jpeg");
    assert.equal(body[0], 0xff);
  }
});

test("an R2 binding that throws still serves the image, and the failure is logged", async () => {
  logs.length = 0;
  const { res } = await get(url(broken, "/broken.jpg"));
  assert.equal(res.headers.get("Content-Type"), "image/jpeg");
  await until(async () => logs.some((l) => l.includes("derived store") && l.includes("get failed")));
  await until(async () => logs.some((l) => l.includes("derived store") && l.includes("put failed")));
});
