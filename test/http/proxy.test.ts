/**
 * What a page relies on when it puts `/enhance?url=` in an <img>, in the real Worker bundle: upstream
 * outcomes mapped the way image proxies map them (a missing image is a 404), `onerror=redirect` falling
 * back to the source (and refused where it would be an open redirector), the source's own freshness
 * honoured, ALLOWED_WIDTHS bounding the variants, and errors that name the parameter and the host.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { darkScene, decodeAny, encodeJpeg, initFixtures } from "../helpers/fixtures.ts";
import { expectError } from "../helpers/errors.ts";
import { startOrigin, type Origin } from "../helpers/origin.ts";

const KEY = "proxy-test-signing-key-0123456789";
let origin: Origin;
let jpeg: Uint8Array;
let other: Uint8Array;
const hits = new Map<string, number>();
/** Which image /changing.jpg serves now. */
let changed = false;
let open: StartedWorker;
let signed: StartedWorker;
let listed: StartedWorker;
let fresh: StartedWorker;

before(async () => {
  await initFixtures();
  jpeg = await encodeJpeg(darkScene(96, 64));
  other = await encodeJpeg(darkScene(64, 96));
  origin = await startOrigin((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin");
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const cc = url.searchParams.get("cc");
    if (url.pathname === "/missing.jpg") res.writeHead(404, { "Content-Type": "text/plain" }).end("no such image");
    else if (url.pathname === "/notes.txt") res.writeHead(200, { "Content-Type": "text/plain" }).end("not an image");
    else if (url.pathname === "/broken.jpg") res.writeHead(200, { "Content-Type": "image/jpeg" }).end(jpeg.subarray(0, 40));
    else if (url.pathname === "/cut.jpg") res.writeHead(200, { "Content-Type": "image/jpeg" }).end(jpeg.subarray(0, jpeg.length - 200));
    else if (url.pathname === "/changing.jpg") res.writeHead(200, { "Content-Type": "image/jpeg", "Cache-Control": "max-age=0" }).end(changed ? other : jpeg);
    else res.writeHead(200, { "Content-Type": "image/jpeg", ...(cc !== null ? { "Cache-Control": cc } : {}) }).end(jpeg);
  });
  [open, signed, listed, fresh] = await Promise.all([
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true" } }),
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", SIGNING_KEY: KEY } }),
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", ALLOWED_SOURCES: "images.example.com", ALLOWED_WIDTHS: "32, 64 200" } }),
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", CACHE_TTL_MIN: "0", CACHE_TTL_MAX: "600" } }),
  ]);
});
after(async () => {
  await Promise.all([open, signed, listed, fresh].map((w) => w?.dispose()));
  await origin?.close();
});

const src = (path: string) => `${origin.url}${path}`;
const enhance = (w: StartedWorker, query: string, init?: RequestInit) => fetch(`${w.url}/enhance?${query}`, { redirect: "manual", ...init });
const proxied = (w: StartedWorker, path: string, extra = "") => enhance(w, `url=${encodeURIComponent(src(path))}${extra}`);

function sign(query: string): string {
  const params = new URLSearchParams(query);
  const payload = [...params].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  return `${query}&sig=${createHmac("sha256", KEY).update(payload).digest("base64url")}`;
}

test("a missing source is a 404 naming the host; the image is missing, not the proxy", async () => {
  const e = await expectError(await proxied(open, "/missing.jpg"), 404, "source_not_found");
  assert.equal(e.param, "url");
  assert.match(e.message, new RegExp(`${new URL(origin.url).host} answered 404`));
});

test("a truncated JPEG is a 422, through ?url= and as an upload, and is never cached", async () => {
  for (let i = 0; i < 2; i++) {
    const e = await expectError(await proxied(open, "/cut.jpg", "&w=32"), 422, "undecodable");
    assert.match(e.message, /truncated/);
  }
  assert.equal(hits.get("/cut.jpg"), 2, "the refusal was not served from a cache");
  const upload = await fetch(`${open.url}/enhance`, { method: "POST", body: jpeg.subarray(0, jpeg.length - 200) as unknown as BodyInit, headers: { "Content-Type": "image/jpeg" } });
  assert.match((await expectError(upload, 422, "undecodable")).message, /truncated/);
});

test("onerror=redirect on a signed request: a missing, non-image or broken source redirects to itself", async () => {
  for (const path of ["/missing.jpg", "/notes.txt", "/broken.jpg", "/cut.jpg"]) {
    const url = src(path);
    const res = await enhance(signed, sign(`url=${encodeURIComponent(url)}&onerror=redirect`));
    assert.equal(res.status, 302, `${path}: ${res.status === 302 ? "" : await res.text()}`);
    assert.equal(res.headers.get("Location"), url);
    assert.equal(res.headers.get("Cache-Control"), "no-store");
  }
  // A good source is enhanced as usual.
  const ok = await enhance(signed, sign(`url=${encodeURIComponent(src("/ok.jpg"))}&onerror=redirect&w=32`));
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("Content-Type"), "image/jpeg");
  // A bad signature or a bad parameter is never a redirect.
  const forged = await enhance(signed, `url=${encodeURIComponent(src("/missing.jpg"))}&onerror=redirect&sig=${"A".repeat(43)}`);
  await expectError(forged, 403, "bad_signature");
  await expectError(await enhance(signed, sign(`url=${encodeURIComponent(src("/ok.jpg"))}&onerror=redirect&w=0`)), 400, "bad_parameter");
});

test("onerror=redirect is refused where it would be an open redirector, and on POST", async () => {
  const e = await expectError(await proxied(open, "/missing.jpg", "&onerror=redirect"), 400, "bad_parameter");
  assert.equal(e.param, "onerror");
  assert.match(e.message, /ALLOWED_SOURCES or SIGNING_KEY/);
  // With an allow-list, only sources it admits get that far: others are refused before anything else.
  await expectError(await proxied(listed, "/missing.jpg", "&onerror=redirect"), 403, "source_not_allowed");
  const post = await fetch(`${open.url}/enhance?onerror=redirect`, { method: "POST", body: jpeg as unknown as BodyInit, headers: { "Content-Type": "image/jpeg" } });
  assert.equal((await expectError(post, 400, "bad_parameter")).param, "onerror");
});

test("freshness: the source's max-age is honoured and bounded; no-store and private sources are not shared-cached", async () => {
  const cc = async (path: string, query = "") => {
    const res = await proxied(fresh, path, `&w=32${query}`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    return res.headers.get("Cache-Control");
  };
  assert.equal(await cc(`/a.jpg?cc=${encodeURIComponent("max-age=120")}`), "public, max-age=120");
  assert.equal(await cc(`/b.jpg?cc=${encodeURIComponent("max-age=99999")}`), "public, max-age=600", "bounded by CACHE_TTL_MAX");
  assert.equal(await cc("/c.jpg"), "public, max-age=31536000, immutable", "a silent source: CACHE_TTL");
  assert.equal(await cc(`/private.jpg?cc=private`), "private, max-age=31536000");
  // no-store: answered no-store, and a repeat goes back to the source.
  const path = `/nostore.jpg?cc=no-store`;
  assert.equal(await cc(path), "no-store");
  await new Promise((r) => setTimeout(r, 200)); // a store would have run in waitUntil by now
  assert.equal(await cc(path), "no-store");
  assert.equal(hits.get("/nostore.jpg"), 2, "a no-store source was served from a cache");
});

test("a photo replaced at the same URL is served anew, with a new ETag, once its freshness runs out", async () => {
  changed = false;
  const first = await proxied(fresh, "/changing.jpg");
  const a = await decodeAny(new Uint8Array(await first.arrayBuffer()));
  const etag = first.headers.get("ETag")!;
  changed = true;
  const second = await proxied(fresh, "/changing.jpg");
  const b = await decodeAny(new Uint8Array(await second.arrayBuffer()));
  assert.deepEqual([a.width, a.height], [96, 64]);
  assert.deepEqual([b.width, b.height], [64, 96], "the replaced photo");
  assert.notEqual(second.headers.get("ETag"), etag);
  // The browser revalidating its old copy gets the new one, not a 304.
  const revalidated = await enhance(fresh, `url=${encodeURIComponent(src("/changing.jpg"))}`, { headers: { "If-None-Match": etag } });
  await revalidated.arrayBuffer();
  assert.equal(revalidated.status, 200);
  changed = false;
});

test("ALLOWED_WIDTHS: a width (dpr included) is rounded up to the next allowed one, or down to the largest", async () => {
  const upload = async (query: string) => {
    const res = await fetch(`${listed.url}/enhance?${query}&strength=0`, { method: "POST", body: jpeg as unknown as BodyInit, headers: { "Content-Type": "image/jpeg" } });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    return res.headers.get("X-Enhance-Size");
  };
  assert.equal(await upload("w=40"), "64x43");
  assert.equal(await upload("w=20&dpr=2"), "64x43", "dpr is applied before rounding");
  assert.equal(await upload("w=10"), "32x21");
  assert.equal(await upload("w=500&fit=contain"), "200x133", "over every allowed width: the largest");
  assert.equal(await upload("h=50"), "96x64", "heights too: 50 -> 64, the source's own height");
});

test("errors name what was wrong: url's problems carry param url; a loopback source hints at ALLOW_PRIVATE_SOURCES", async () => {
  for (const bad of ["ftp://example.com/a.jpg", "not a url", "http://user:pw@example.com/a.jpg"]) {
    const e = await expectError(await enhance(open, `url=${encodeURIComponent(bad)}`), 400, "bad_parameter");
    assert.equal(e.param, "url", bad);
  }
  const strict = await startWorker({});
  try {
    // Another port on this machine: refused as a local address, with the way to allow it, not as "this service".
    const e = await expectError(await enhance(strict, `url=${encodeURIComponent("http://localhost:8900/x.jpg")}`), 403, "source_not_allowed");
    assert.equal(e.param, "url");
    assert.match(e.message, /localhost.*ALLOW_PRIVATE_SOURCES=true/);
    assert.doesNotMatch(e.message, /itself/);
  } finally {
    await strict.dispose();
  }
  // With private sources allowed (local testing), another port is fetched; the service's own is refused.
  const self = await expectError(await enhance(open, `url=${encodeURIComponent(`${open.url}/health`)}`), 403, "source_not_allowed");
  assert.match(self.message, /this service itself/);
  const unreachable = await expectError(await enhance(open, `url=${encodeURIComponent("http://no-such-host.invalid/a.jpg")}`), 502, "upstream_error");
  assert.match(unreachable.message, /no-such-host\.invalid could not be reached: its name did not resolve/);
});
