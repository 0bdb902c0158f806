/**
 * What an operator relies on, in the real Worker bundle (workerd): one JSON log line per request
 * without secrets, HEAD answered from the cache without ever fetching or running the model, and the
 * optional per-IP rate limit (429 with Retry-After; the limiter failing open by default, closed on request).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { darkScene, encodeJpeg, initFixtures } from "../helpers/fixtures.ts";
import { expectError } from "../helpers/errors.ts";
import { imageOrigin } from "../helpers/origin.ts";

let origin: Awaited<ReturnType<typeof imageOrigin>>;
let jpeg: Uint8Array;
const logs: string[] = [];
let open: StartedWorker;
let limited: StartedWorker;
let broken: StartedWorker;
let closed: StartedWorker;

before(async () => {
  await initFixtures();
  jpeg = await encodeJpeg(darkScene(64, 48));
  origin = await imageOrigin(() => jpeg);
  [open, limited, broken, closed] = await Promise.all([
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", SIGNING_KEY: "operations-test-key-0123456789" }, onLog: (l) => logs.push(l) }),
    startWorker({ ratelimits: { RATE_LIMITER: { simple: { limit: 2, period: 60 } } } }),
    // Fault injection: a binding that is not a limiter makes every limit() call throw.
    startWorker({ vars: { RATE_LIMITER: "not-a-limiter" }, onLog: (l) => logs.push(l) }),
    startWorker({ vars: { RATE_LIMITER: "not-a-limiter", RATE_LIMIT_FAIL: "closed" } }),
  ]);
});
after(async () => {
  await Promise.all([open, limited, broken, closed].map((w) => w?.dispose()));
  await origin?.close();
});

async function signed(query: string): Promise<string> {
  const { createHmac } = await import("node:crypto");
  const params = new URLSearchParams(query);
  const payload = [...params].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const sig = createHmac("sha256", "operations-test-key-0123456789").update(payload).digest("base64url");
  return `${open.url}/enhance?${query}&sig=${sig}`;
}

const requestLines = () => logs.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Record<string, unknown>);

async function waitFor<T>(f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 40; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting");
}

test("HEAD never fetches the source or runs the model; after a GET it is answered from the cache", async () => {
  const url = await signed(`url=${encodeURIComponent(`${origin.url}/head.jpg`)}&w=32&format=webp`);
  const hits = () => origin.hits("/head.jpg");
  const miss = await fetch(url, { method: "HEAD" });
  assert.equal(miss.status, 200);
  assert.equal(miss.headers.get("X-Enhance-Cache"), "miss");
  assert.equal(miss.headers.get("Cache-Control"), "no-store");
  assert.equal(miss.headers.get("Server-Timing"), null, "no pipeline ran");
  assert.equal(hits(), 0, "the source was not fetched");
  // The result's ETag follows the source's bytes, which a HEAD never fetches: a miss cannot name it.
  assert.equal(miss.headers.get("ETag"), null);

  const get = await fetch(url);
  await get.arrayBuffer();
  assert.equal(get.status, 200);
  const etag = get.headers.get("ETag");
  assert.ok(etag);
  assert.equal(hits(), 1);

  let head: Response | undefined;
  for (let i = 0; i < 20 && head?.headers.get("Content-Type") !== "image/webp"; i++) {
    await new Promise((r) => setTimeout(r, 50)); // cache.put runs in waitUntil
    head = await fetch(url, { method: "HEAD" });
  }
  assert.equal(head!.status, 200);
  assert.equal(head!.headers.get("Content-Type"), "image/webp");
  assert.equal(head!.headers.get("X-Enhance-Cache"), null);
  assert.equal(head!.headers.get("ETag"), etag, "a stored result's HEAD carries its ETag");
  assert.equal(hits(), 1, "no HEAD fetched the source");
});

test("one JSON log line per request: route, status, source host, sizes, format, model, stages, cache; no query or signature", async () => {
  const path = "/logged.jpg";
  const url = await signed(`url=${encodeURIComponent(`${origin.url}${path}`)}&w=40`);
  logs.length = 0;
  const res = await fetch(url);
  await res.arrayBuffer();
  const line = await waitFor(() => requestLines().find((l) => l.status === 200 && l.method === "GET"));
  assert.equal(line.route, "/enhance");
  assert.equal(line.path, "/enhance");
  assert.equal(line.sourceHost, "127.0.0.1");
  assert.equal(line.cache, "none");
  assert.equal(line.inBytes, jpeg.length);
  assert.ok((line.outBytes as number) > 0);
  assert.equal(line.format, "image/jpeg");
  assert.equal(line.size, "40x30");
  assert.match(String(line.model), /@/);
  assert.ok(typeof (line.stages as Record<string, number>).encode === "number");
  const raw = logs.join("\n");
  assert.ok(!raw.includes("sig="), "no signature in the logs");
  assert.ok(!raw.includes(path), "no source path in the logs");

  logs.length = 0;
  const bad = await fetch(`${open.url}/enhance?url=x&w=0`);
  await bad.arrayBuffer();
  const err = await waitFor(() => requestLines().find((l) => l.status === 403 || l.status === 400));
  assert.equal(err.route, "/enhance");
});

test("rate limit per client IP: the third request in the period is a 429 with Retry-After; /health is not limited", async () => {
  const post = () => fetch(`${limited.url}/enhance?strength=0&format=png`, { method: "POST", body: jpeg as unknown as BodyInit, headers: { "Content-Type": "image/jpeg" } });
  const statuses: number[] = [];
  let last: Response | undefined;
  for (let i = 0; i < 3; i++) {
    last = await post();
    statuses.push(last.status);
    if (i < 2) await last.arrayBuffer();
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.equal(last!.headers.get("Retry-After"), "60");
  await expectError(last!, 429, "rate_limited");
  assert.equal((await fetch(`${limited.url}/health`)).status, 200);
});

test("a failing rate limiter fails open by default (logged) and closed with RATE_LIMIT_FAIL=closed", async () => {
  logs.length = 0;
  const post = (w: StartedWorker) => fetch(`${w.url}/enhance?strength=0&format=png`, { method: "POST", body: jpeg as unknown as BodyInit, headers: { "Content-Type": "image/jpeg" } });
  const ok = await post(broken);
  await ok.arrayBuffer();
  assert.equal(ok.status, 200);
  await waitFor(() => logs.find((l) => l.includes("rate limiter failed")));
  await expectError(await post(closed), 503, "busy");
});
