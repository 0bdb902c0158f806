/**
 * The real Worker bundle in workerd (Miniflare), with the real model and codecs.
 *  - "open":   ALLOW_PRIVATE_SOURCES=true, sources served by a local node:http origin.
 *  - "strict": default config; every subrequest goes to a recording outbound handler that serves only
 *              the public test host images.example.com (from the origin) and counts anything else as a
 *              canary hit, which must stay at zero.
 *  - "signed": SIGNING_KEY set.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingHttpHeaders, type RequestListener } from "node:http";
import { createHmac } from "node:crypto";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import {
  darkScene,
  decodeAny,
  encodeJpeg,
  encodePng,
  initFixtures,
  meanLuma,
  meanRgb,
  paint,
  pngDeclaring,
  withExifOrientation,
} from "../helpers/fixtures.ts";
import { MALFORMED_URLS, REFUSED_ADDRESS_URLS } from "../helpers/hostile-urls.ts";
import { expectError } from "../helpers/errors.ts";
import { startOrigin, type Origin } from "../helpers/origin.ts";

const MAX_BYTES = 256 * 1024;
const TIMEOUT_MS = 1500;
const SIGNING_KEY = "integration-test-key-0123456789";
const PUBLIC_HOST = "images.example.com";

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

let origin: Origin;
const seen: Seen[] = [];
const files = new Map<string, { type: string; body: Uint8Array }>();
let open: StartedWorker;
let strict: StartedWorker;
let signed: StartedWorker;
/** Subrequests of the strict Worker to anything but PUBLIC_HOST. */
const canary: string[] = [];

const hits = (path: string) => seen.filter((s) => s.path === path).length;

/** The open Worker's sources: the files above, statuses, redirects, slow and oversized answers. */
const serveSources: RequestListener = (req, res) => {
  const url = new URL(req.url ?? "/", "http://origin");
  seen.push({ path: url.pathname, headers: req.headers });
  const p = url.pathname;
  const file = files.get(p);
  if (file) {
    res.writeHead(200, { "Content-Type": file.type, "Content-Length": file.body.length });
    res.end(file.body);
  } else if (p.startsWith("/status/")) {
    res.writeHead(Number(p.slice(8)), { "Content-Type": "text/plain" });
    res.end("upstream says no");
  } else if (p === "/redirect") {
    res.writeHead(302, { Location: url.searchParams.get("to") ?? "/" });
    res.end();
  } else if (p === "/loop") {
    res.writeHead(301, { Location: "/loop" });
    res.end();
  } else if (p.startsWith("/chain/")) {
    const n = Number(p.slice(7));
    res.writeHead(307, { Location: n > 0 ? `/chain/${n - 1}` : "/dark.png" });
    res.end();
  } else if (p === "/slow-headers") {
    const t = setTimeout(() => res.end(), 10_000);
    res.on("close", () => clearTimeout(t));
  } else if (p === "/trickle") {
    res.writeHead(200, { "Content-Type": "image/png" });
    const t = setInterval(() => res.write(Buffer.from([0x89])), 100);
    res.on("close", () => clearInterval(t));
  } else if (p === "/chunked-big") {
    // No Content-Length: only the streaming cap can stop it.
    res.writeHead(200, { "Content-Type": "image/png" });
    const png = files.get("/dark.png")!.body;
    res.write(png);
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = png.length;
    const pump = () => {
      while (sent < 4 * MAX_BYTES) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  } else if (p === "/declared-big") {
    res.writeHead(200, { "Content-Type": "image/png", "Content-Length": String(50_000_000) });
    res.write(files.get("/dark.png")!.body);
  } else {
    res.writeHead(404, { "Content-Type": "text/plain" });
    res.end("not here");
  }
};

/** The strict Worker's network: PUBLIC_HOST is served by the origin; anything else is a canary hit. */
async function strictOutbound(req: Request): Promise<Response> {
  const u = new URL(req.url);
  if (u.hostname !== PUBLIC_HOST) {
    canary.push(req.url);
    return new Response("canary", { status: 599 });
  }
  return fetch(`${origin.url}${u.pathname}${u.search}`, { headers: req.headers, redirect: "manual" });
}

const W = 96;
const H = 64;
let darkPng: Uint8Array<ArrayBuffer>;
let darkJpeg: Uint8Array<ArrayBuffer>;

before(async () => {
  await initFixtures();
  darkPng = await encodePng(darkScene(W, H));
  darkJpeg = await encodeJpeg(darkScene(W, H));
  // Stored 48x24: top half red, bottom half blue. Orientation 6 = rotate 90 degrees clockwise to view,
  // so upright it is 24x48 with red on the right and blue on the left.
  const sideways = paint(48, 24, (_x, y) => (y < 12 ? [220, 30, 30] : [30, 30, 220]));
  files.set("/dark.png", { type: "image/png", body: darkPng });
  files.set("/dark.jpg", { type: "image/jpeg", body: darkJpeg });
  files.set("/counted.png", { type: "image/png", body: darkPng });
  files.set("/negotiated.png", { type: "image/png", body: darkPng });
  files.set("/headers.png", { type: "image/png", body: darkPng });
  files.set("/octet.jpg", { type: "application/octet-stream", body: darkJpeg });
  files.set("/rotated.jpg", { type: "image/jpeg", body: withExifOrientation(await encodeJpeg(sideways, 95), 6) });
  files.set("/bomb.png", { type: "image/png", body: pngDeclaring(50_000, 50_000) });
  files.set("/garbage.png", { type: "image/png", body: new Uint8Array([...darkPng.subarray(0, 60), ...new Uint8Array(200).fill(0xee)]) });
  files.set("/page.html", { type: "text/html", body: new TextEncoder().encode("<html><body>hi</body></html>") });
  files.set("/image.svg", { type: "image/svg+xml", body: new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>') });
  files.set("/as-text.png", { type: "text/plain", body: darkPng });
  origin = await startOrigin(serveSources);
  [open, strict, signed] = await Promise.all([
    startWorker({
      vars: { ALLOW_PRIVATE_SOURCES: "true", FETCH_TIMEOUT_MS: String(TIMEOUT_MS), MAX_SOURCE_BYTES: String(MAX_BYTES) },
    }),
    startWorker({ outbound: strictOutbound }),
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", SIGNING_KEY } }),
  ]);
});

after(async () => {
  await Promise.all([open?.dispose(), strict?.dispose(), signed?.dispose()]);
  await origin?.close();
});

const proxied = (path: string, extra = "") => `${open.url}/enhance?url=${encodeURIComponent(origin.url + path)}${extra}`;

async function image(res: Response, type: "image/png" | "image/jpeg") {
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, res.status === 200 ? "" : new TextDecoder().decode(bytes));
  assert.equal(res.headers.get("Content-Type"), type);
  return decodeAny(bytes);
}

describe("routes", () => {
  test("GET /health reports the model and limits", async () => {
    const res = await fetch(`${open.url}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; model: Record<string, unknown>; limits: Record<string, number> };
    assert.equal(body.status, "ok");
    assert.match(String(body.model.sha256), /^[0-9a-f]{64}$/);
    for (const k of ["name", "version", "arch", "variant", "estimationSize"]) assert.ok(body.model[k] !== undefined, k);
    assert.equal(body.limits.maxSourceBytes, MAX_BYTES);
    assert.equal(body.limits.fetchTimeoutMs, TIMEOUT_MS);
  });

  test("GET / is an HTML page", async () => {
    const res = await fetch(`${open.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("Content-Type") ?? "", /^text\/html/);
    const html = await res.text();
    // Without script the upload form still posts; with it, the page's own script and styles only.
    assert.match(html, /<form id="upload"[^>]* method="post" action="\/enhance" enctype="multipart\/form-data"/);
    assert.doesNotMatch(html, /<script>|<style>| on[a-z]+=/, "no inline script, style or handler");
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    for (const [, src] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
      const asset = await fetch(`${open.url}${src}`);
      assert.equal(asset.status, 200, src);
      assert.match(asset.headers.get("Content-Type") ?? "", src!.endsWith(".css") ? /^text\/css/ : /^text\/javascript/);
      assert.ok((await asset.text()).length > 1000, `${src} has a body`);
    }
  });

  test("assets revalidate by ETag; unknown ones are JSON 404s", async () => {
    const first = await fetch(`${open.url}/assets/demo.js`);
    const etag = first.headers.get("ETag");
    assert.match(etag ?? "", /^"[0-9a-f]{24}"$/);
    await first.arrayBuffer();
    const again = await fetch(`${open.url}/assets/demo.js`, { headers: { "If-None-Match": etag! } });
    assert.equal(again.status, 304);
    await expectError(await fetch(`${open.url}/assets/nope.js`), 404, "not_found");
    await expectError(await fetch(`${open.url}/assets/demo.js`, { method: "POST" }), 405, "method_not_allowed");
  });

  test("GET /docs renders /openapi.json with assets served here", async () => {
    const res = await fetch(`${open.url}/docs`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:\/\//, "nothing from another origin");
    assert.match(html, /src="\/assets\/swagger-ui-bundle\.js"/);
    const doc = await fetch(`${open.url}/openapi.json`);
    assert.equal(doc.status, 200);
    const body = (await doc.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(body.openapi, "3.1.0");
    assert.deepEqual(Object.keys(body.paths).sort(), ["/", "/docs", "/enhance", "/health", "/openapi.json"]);
  });

  test("404 and 405 are JSON", async () => {
    await expectError(await fetch(`${open.url}/nope`), 404, "not_found");
    const res = await fetch(`${open.url}/enhance`, { method: "PUT", body: "x" });
    assert.equal(res.headers.get("Allow"), "GET, HEAD, POST");
    await expectError(res, 405, "method_not_allowed");
    await expectError(await fetch(`${open.url}/health`, { method: "DELETE" }), 405, "method_not_allowed");
  });
});

describe("enhance", () => {
  test("upload round trips: raw PNG, raw JPEG, multipart", async () => {
    let res = await fetch(`${open.url}/enhance`, { method: "POST", body: darkPng, headers: { "Content-Type": "image/png" } });
    const png = await image(res, "image/png");
    assert.deepEqual([png.width, png.height], [W, H]);
    assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff");
    assert.equal(res.headers.get("Content-Security-Policy"), "default-src 'none'");
    assert.equal(res.headers.get("Content-Disposition"), 'inline; filename="enhanced.png"');
    assert.equal(res.headers.get("Vary"), "Accept");
    assert.match(res.headers.get("ETag") ?? "", /^"[0-9a-f]{32}"$/);
    assert.match(res.headers.get("X-Enhance-Strength") ?? "", /^[01](\.\d+)?$/);
    assert.equal(res.headers.get("X-Enhance-Size"), `${W}x${H}`);
    assert.match(res.headers.get("Server-Timing") ?? "", /^decode;dur=[\d.]+, .*model;dur=[\d.]+, .*encode;dur=[\d.]+$/);

    res = await fetch(`${open.url}/enhance?q=80`, { method: "POST", body: darkJpeg, headers: { "Content-Type": "application/octet-stream" } });
    const jpeg = await image(res, "image/jpeg");
    assert.deepEqual([jpeg.width, jpeg.height], [W, H]);
    assert.equal(res.headers.get("Content-Disposition"), 'inline; filename="enhanced.jpg"');

    const form = new FormData();
    form.set("file", new Blob([darkJpeg], { type: "image/jpeg" }), "dark.jpg");
    res = await fetch(`${open.url}/enhance?format=png`, { method: "POST", body: form });
    const fromForm = await image(res, "image/png");
    assert.deepEqual([fromForm.width, fromForm.height], [W, H]);
    assert.equal(res.headers.get("Vary"), null, "an explicit format does not vary");
  });

  test("proxy round trips: PNG and JPEG sources, explicit and negotiated formats", async () => {
    await image(await fetch(proxied("/dark.png")), "image/png");
    await image(await fetch(proxied("/dark.jpg")), "image/jpeg");
    await image(await fetch(proxied("/octet.jpg", "&format=png")), "image/png");
    const res = await fetch(proxied("/dark.png"), { headers: { Accept: "image/jpeg,image/*;q=0.5" } });
    await image(res, "image/jpeg");
    assert.equal(res.headers.get("Vary"), "Accept");
  });

  test("thumbnail sizes for each fit", async () => {
    const cases: Array<[string, number, number]> = [
      ["&w=48", 48, 32],
      ["&h=16", 24, 16],
      ["&w=48&h=48", 48, 32], // scale-down: inside the box
      ["&w=200&h=200", W, H], // scale-down never enlarges
      ["&w=48&h=48&fit=contain", 48, 32],
      ["&w=192&h=192&fit=contain", 192, 128],
      ["&w=48&h=48&fit=cover", 48, 48],
      ["&w=30&h=50&fit=cover", 30, 50],
    ];
    for (const [q, w, h] of cases) {
      const img = await image(await fetch(proxied("/dark.png", `${q}&strength=0`)), "image/png");
      assert.deepEqual([img.width, img.height], [w, h], q);
    }
  });

  test("strength=0 returns a PNG's pixels untouched", async () => {
    const src = paint(40, 30, (x, y) => [(x * 37) % 256, (y * 59) % 256, (x * y) % 256]);
    const res = await fetch(`${open.url}/enhance?strength=0`, { method: "POST", body: await encodePng(src), headers: { "Content-Type": "image/png" } });
    const out = await image(res, "image/png");
    assert.equal(res.headers.get("X-Enhance-Strength"), "0");
    assert.doesNotMatch(res.headers.get("Server-Timing") ?? "", /model;/, "strength=0 must not run the model");
    assert.deepEqual([out.width, out.height], [40, 30]);
    assert.ok(Buffer.from(out.data).equals(Buffer.from(src.data)), "pixels differ");
  });

  test("output is brighter than a dark input", async () => {
    const res = await fetch(`${open.url}/enhance?strength=1&format=png`, { method: "POST", body: darkPng, headers: { "Content-Type": "image/png" } });
    const out = await image(res, "image/png");
    const before = meanLuma(darkScene(W, H));
    const after = meanLuma(out);
    assert.ok(after > before, `mean luma ${after.toFixed(1)} is not above the input's ${before.toFixed(1)}`);
  });

  test("EXIF-rotated JPEG comes out upright", async () => {
    const out = await image(await fetch(proxied("/rotated.jpg", "&strength=0")), "image/jpeg");
    assert.deepEqual([out.width, out.height], [24, 48]);
    const left = meanRgb(out, 2, 4, 10, 44);
    const right = meanRgb(out, 14, 4, 22, 44);
    assert.ok(left[2] > 150 && left[0] < 90, `left should be blue: ${left}`);
    assert.ok(right[0] > 150 && right[2] < 90, `right should be red: ${right}`);
    const raw = await image(await fetch(proxied("/rotated.jpg", "&strength=0&orient=false")), "image/jpeg");
    assert.deepEqual([raw.width, raw.height], [48, 24]);
  });
});

describe("caching", () => {
  test("a repeat GET is served from the cache; If-None-Match answers 304 without fetching", async () => {
    const url = proxied("/counted.png", "&w=32");
    const first = await fetch(url);
    await image(first, "image/png");
    const etag = first.headers.get("ETag")!;
    assert.equal(first.headers.get("Cache-Control"), "public, max-age=31536000, immutable");
    assert.equal(hits("/counted.png"), 1);
    let second: Response | undefined;
    for (let i = 0; i < 20; i++) {
      // cache.put runs in waitUntil, after the first response
      await new Promise((r) => setTimeout(r, 50));
      second = await fetch(url);
      await second.arrayBuffer();
      if (hits("/counted.png") === 1) break;
    }
    assert.equal(hits("/counted.png"), 1, "the repeat fetched the source again");
    assert.equal(second!.status, 200);
    assert.equal(second!.headers.get("ETag"), etag);

    const conditional = await fetch(url, { headers: { "If-None-Match": `"other", ${etag}` } });
    assert.equal(conditional.status, 304);
    assert.equal(conditional.headers.get("ETag"), etag);
    assert.equal(hits("/counted.png"), 1);

    // Equivalent spellings of the same request share the entry.
    const same = await fetch(proxied("/counted.png", "&w=32&fit=scale-down&q=85&mode=fast"), { headers: { "If-None-Match": etag } });
    assert.equal(same.status, 304);
  });

  test("the negotiated format is part of the key and the ETag", async () => {
    const asPng = await fetch(proxied("/negotiated.png"), { headers: { Accept: "image/png" } });
    const asJpeg = await fetch(proxied("/negotiated.png"), { headers: { Accept: "image/jpeg" } });
    await image(asPng, "image/png");
    await image(asJpeg, "image/jpeg");
    assert.notEqual(asPng.headers.get("ETag"), asJpeg.headers.get("ETag"));
    await new Promise((r) => setTimeout(r, 100));
    await image(await fetch(proxied("/negotiated.png"), { headers: { Accept: "image/jpeg" } }), "image/jpeg");
    await image(await fetch(proxied("/negotiated.png"), { headers: { Accept: "image/png" } }), "image/png");
  });

  test("uploads are not stored (no-store) but carry an ETag", async () => {
    const res = await fetch(`${open.url}/enhance?w=16`, { method: "POST", body: darkPng, headers: { "Content-Type": "image/png" } });
    await image(res, "image/png");
    assert.equal(res.headers.get("Cache-Control"), "no-store");
    assert.match(res.headers.get("ETag") ?? "", /^"[0-9a-f]{32}"$/);
  });
});

describe("errors", () => {
  test("400 for parameters", async () => {
    const { message: m } = await expectError(await fetch(proxied("/dark.png", "&width=5")), 400, "bad_parameter");
    assert.match(m, /unknown parameter "width"/);
    await expectError(await fetch(proxied("/dark.png", "&w=0")), 400, "bad_parameter");
    await expectError(await fetch(`${open.url}/enhance`), 400, "bad_parameter");
    await expectError(await fetch(`${open.url}/enhance?url=${encodeURIComponent("file:///etc/passwd")}`), 400, "bad_parameter");
  });

  test("413 when the source or upload is over MAX_SOURCE_BYTES", async () => {
    await expectError(await fetch(proxied("/chunked-big")), 413, "too_large");
    await expectError(await fetch(proxied("/declared-big")), 413, "too_large");
    const big = new Uint8Array(MAX_BYTES + 1);
    big.set(darkPng);
    await expectError(await fetch(`${open.url}/enhance`, { method: "POST", body: big, headers: { "Content-Type": "image/png" } }), 413, "too_large");
    // Streamed without Content-Length: the cap applies while reading.
    // node:http rather than fetch: the Worker answers 413 while the body is still being sent, and
    // fetch then sometimes reports the reset connection instead of the response it already has.
    const res = await new Promise<Response>((resolve, reject) => {
      const req = httpRequest(`${open.url}/enhance`, { method: "POST", headers: { "Content-Type": "application/octet-stream" } }, (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (d: Buffer) => chunks.push(d));
        r.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: r.statusCode, headers: r.headers as Record<string, string> })));
        r.on("error", reject);
      });
      // The write side may be cut once the answer is on its way; without an answer that is a failure.
      req.on("error", (e) => setTimeout(() => reject(e), 10_000).unref());
      for (let i = 0; i < 5; i++) req.write(new Uint8Array(MAX_BYTES / 2));
      req.end();
    });
    await expectError(res, 413, "too_large");
  });

  test("415 for what is not an image; an SVG is passed through unchanged, unable to run script", async () => {
    await expectError(await fetch(`${open.url}/enhance`, { method: "POST", body: "hello", headers: { "Content-Type": "text/plain" } }), 415, "unsupported_media_type");
    await expectError(await fetch(proxied("/page.html")), 415, "unsupported_media_type");
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>');
    for (const res of [await fetch(proxied("/image.svg")), await fetch(`${open.url}/enhance`, { method: "POST", body: svg, headers: { "Content-Type": "image/svg+xml" } })]) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("Content-Type"), "image/svg+xml");
      assert.equal(res.headers.get("Content-Security-Policy"), "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox");
      assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff");
      assert.equal(res.headers.get("X-Enhance-Passthrough"), "svg");
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), svg, "unchanged");
    }
    // Asked for a raster format it cannot have: a 415 that says how to get it.
    const e = await expectError(await fetch(proxied("/image.svg", "&format=png")), 415, "unsupported_media_type");
    assert.equal(e.param, "format");
    await expectError(await fetch(proxied("/as-text.png")), 415, "unsupported_media_type");
  });

  test("422 for undecodable images and a header declaring 50000x50000", async () => {
    await expectError(await fetch(proxied("/garbage.png")), 422, "undecodable");
    const { message: m } = await expectError(await fetch(proxied("/bomb.png")), 422, "too_many_pixels");
    assert.match(m, /50000x50000/);
    await expectError(
      await fetch(`${open.url}/enhance`, { method: "POST", body: pngDeclaring(50_000, 50_000), headers: { "Content-Type": "image/png" } }),
      422,
      "too_many_pixels",
    );
    await expectError(await fetch(proxied("/dark.png", "&w=8000&h=8000&fit=cover")), 422, "too_many_pixels");
  });

  test("404 when the source is missing; 502 for upstream failures, too many redirects and unreachable hosts, naming the host", async () => {
    const host = new URL(origin.url).host;
    const missing = await expectError(await fetch(proxied("/status/404")), 404, "source_not_found");
    assert.equal(missing.param, "url");
    assert.ok(missing.message.includes(`${host} answered 404`), missing.message);
    const failed = await expectError(await fetch(proxied("/status/500")), 502, "upstream_error");
    assert.ok(failed.message.includes(`${host} answered 500`), failed.message);
    await expectError(await fetch(proxied("/loop")), 502, "upstream_error");
    await expectError(await fetch(proxied("/chain/3")), 502, "upstream_error"); // 4 hops > MAX_REDIRECTS=3
    await image(await fetch(proxied("/chain/2")), "image/png"); // 3 hops
    await expectError(await fetch(proxied(`/redirect?to=${encodeURIComponent("file:///etc/passwd")}`)), 502, "upstream_error");
    await expectError(await fetch(`${open.url}/enhance?url=${encodeURIComponent("http://127.0.0.1:1/a.png")}`), 502, "upstream_error");
  });

  test("504 for slow upstreams, within the deadline", async () => {
    for (const path of ["/slow-headers", "/trickle"]) {
      const t0 = Date.now();
      await expectError(await fetch(proxied(path)), 504, "upstream_timeout");
      const took = Date.now() - t0;
      assert.ok(took >= TIMEOUT_MS - 100 && took < TIMEOUT_MS + 2000, `${path} took ${took} ms`);
    }
  });
});

describe("source rules (strict default config)", () => {
  test("a public host is fetched (so the refusals below are the rules, not the network)", async () => {
    const res = await fetch(`${strict.url}/enhance?url=${encodeURIComponent(`http://${PUBLIC_HOST}/dark.png`)}&strength=0`);
    await image(res, "image/png");
    assert.equal(canary.length, 0);
  });

  test("every refused address spelling is 403 and nothing is fetched", async () => {
    const table = REFUSED_ADDRESS_URLS.filter((u) => !u.toLowerCase().includes("enhance.example.net"));
    const self = new URL(strict.url);
    table.push(`${strict.url}/health`, `http://${self.hostname}:1/a.png`);
    for (const url of table) {
      await expectError(await fetch(`${strict.url}/enhance?url=${encodeURIComponent(url)}`), 403, "source_not_allowed");
    }
    for (const url of MALFORMED_URLS) {
      await expectError(await fetch(`${strict.url}/enhance?url=${encodeURIComponent(url)}`), 400, "bad_parameter");
    }
    assert.deepEqual(canary, []);
  });

  test("a redirect to a refused address is 403 and never followed", async () => {
    for (const target of ["http://169.254.169.254/latest/meta-data/", `${origin.url}/dark.png`, "http://[::ffff:10.0.0.1]/", "http://localhost./"]) {
      const src = `http://${PUBLIC_HOST}/redirect?to=${encodeURIComponent(target)}`;
      await expectError(await fetch(`${strict.url}/enhance?url=${encodeURIComponent(src)}`), 403, "source_not_allowed");
    }
    assert.deepEqual(canary, []);
  });

  test("the client's Cookie and Authorization never reach the upstream", async () => {
    const secret = { Cookie: "session=s3cr3t", Authorization: "Bearer t0ken", "X-Api-Key": "k3y", Referer: "https://private.example/" };
    await image(await fetch(proxied("/headers.png", "&strength=0"), { headers: secret }), "image/png");
    const src = `${origin.url}/redirect?to=${encodeURIComponent("/headers.png")}`;
    await image(await fetch(`${open.url}/enhance?url=${encodeURIComponent(src)}&w=10`, { headers: secret }), "image/png");
    const upstream = seen.filter((s) => s.path === "/headers.png");
    assert.equal(upstream.length, 2);
    for (const { headers } of upstream) {
      const leaked = JSON.stringify(headers);
      for (const v of ["s3cr3t", "t0ken", "k3y", "private.example"]) assert.ok(!leaked.includes(v), `${v} leaked: ${leaked}`);
      assert.match(String(headers["user-agent"]), /^lowlight-edge\//);
    }
  });
});

describe("signed URLs", () => {
  const base = () => [
    ["url", `${origin.url}/dark.png`],
    ["w", "32"],
  ];
  const query = (params: string[][]) => params.map(([k, v]) => `${k}=${encodeURIComponent(v!)}`).join("&");
  const sign = (params: string[][]) =>
    createHmac("sha256", SIGNING_KEY)
      .update(query([...params].sort(([a], [b]) => (a! < b! ? -1 : 1))))
      .digest("base64url");

  test("a correct signature passes, in any parameter order", async () => {
    const sig = sign(base());
    await image(await fetch(`${signed.url}/enhance?${query(base())}&sig=${sig}`), "image/png");
    await image(await fetch(`${signed.url}/enhance?sig=${sig}&${query(base().reverse())}`), "image/png");
  });

  test("missing, wrong, truncated and changed-parameter signatures are 403", async () => {
    const sig = sign(base());
    const bad = [
      `${query(base())}`,
      `${query(base())}&sig=`,
      `${query(base())}&sig=${sig.slice(0, -1)}`,
      `${query(base())}&sig=${sig.slice(0, 10)}`,
      `${query(base())}&sig=${(sig[0] === "A" ? "B" : "A") + sig.slice(1)}`,
      `${query([...base(), ["strength", "0"]])}&sig=${sig}`,
      `${query([base()[0]!, ["w", "33"]])}&sig=${sig}`,
      `${query(base())}&sig=${createHmac("sha256", "wrong-key-wrong-key").update(query(base())).digest("base64url")}`,
    ];
    for (const q of bad) await expectError(await fetch(`${signed.url}/enhance?${q}`), 403, "bad_signature");
    await expectError(await fetch(`${signed.url}/enhance?w=32`, { method: "POST", body: darkPng, headers: { "Content-Type": "image/png" } }), 403, "bad_signature");
    await image(
      await fetch(`${signed.url}/enhance?w=32&sig=${sign([["w", "32"]])}`, { method: "POST", body: darkPng, headers: { "Content-Type": "image/png" } }),
      "image/png",
    );
  });
});
