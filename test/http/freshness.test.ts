/** How long a proxied result may be cached, from its source's headers (src/http/freshness.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { freshness } from "../../src/http/freshness.ts";

const BOUNDS = { default: 31_536_000, min: 60, max: 86_400 };
const of = (headers: Record<string, string>) => freshness(new Headers(headers), BOUNDS, Date.parse("2026-12-07T12:00:00Z"));

test("a source that says nothing: the default TTL, immutable, shared", () => {
  assert.deepEqual(of({}), { cacheControl: "public, max-age=31536000, immutable", shared: true, ttl: 31_536_000 });
});

test("the source's max-age, bounded; s-maxage wins for this shared cache; immutable passed on", () => {
  assert.deepEqual(of({ "Cache-Control": "max-age=120" }), { cacheControl: "public, max-age=120", shared: true, ttl: 120 });
  assert.equal(of({ "Cache-Control": "public, max-age=5" }).ttl, 60, "raised to CACHE_TTL_MIN");
  assert.equal(of({ "Cache-Control": "max-age=999999999" }).ttl, 86_400, "lowered to CACHE_TTL_MAX");
  assert.equal(of({ "Cache-Control": "max-age=100, s-maxage=600" }).ttl, 600);
  assert.equal(of({ "Cache-Control": "max-age=600, immutable" }).cacheControl, "public, max-age=600, immutable");
  assert.equal(of({ "Cache-Control": "no-cache" }).ttl, 60, "revalidate-always becomes the minimum");
  assert.equal(of({ "Cache-Control": "no-cache, max-age=3600" }).ttl, 60, "no-cache wins over a max-age beside it");
  assert.equal(of({ "Cache-Control": "max-age=junk" }).ttl, 31_536_000, "an unreadable max-age counts as none");
});

test("no-store is never stored; private only by the client", () => {
  assert.deepEqual(of({ "Cache-Control": "no-store, max-age=600" }), { cacheControl: "no-store", shared: false, ttl: 0 });
  assert.deepEqual(of({ "Cache-Control": "private, max-age=300, s-maxage=900" }), { cacheControl: "private, max-age=300", shared: false, ttl: 300 });
  assert.equal(of({ "Cache-Control": "private" }).shared, false);
});

test("Expires counts from the source's Date; an invalid or past one is the minimum", () => {
  assert.equal(of({ Expires: "Mon, 07 Dec 2026 13:00:00 GMT", Date: "Mon, 07 Dec 2026 12:00:00 GMT" }).ttl, 3600);
  assert.equal(of({ Expires: "0" }).ttl, 60);
  assert.equal(of({ Expires: "Mon, 07 Dec 2026 11:00:00 GMT" }).ttl, 60);
  assert.equal(of({ Expires: "Mon, 07 Dec 2026 13:00:00 GMT", "Cache-Control": "max-age=100" }).ttl, 100, "max-age wins over Expires");
});

test("with CACHE_TTL_MIN 0, a max-age=0 source is not stored at all", () => {
  const f = freshness(new Headers({ "Cache-Control": "max-age=0" }), { default: 3600, min: 0, max: 3600 });
  assert.deepEqual(f, { cacheControl: "public, max-age=0", shared: false, ttl: 0 });
});
