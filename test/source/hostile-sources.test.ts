/**
 * Hostile sources for `GET /enhance?url=`: the real Worker bundle in workerd, table-driven.
 *
 * Two witnesses make sure nothing forbidden is ever fetched:
 *  - a TCP canary: a node:http server on every loopback address (listening on `::`, dual stack) that
 *    records every connection and request it receives. Refused URLs aim at its port, so a rule that let
 *    one through would show up here as a real connection.
 *  - Miniflare's outbound hook on the "hook" instance: it sees every subrequest the Worker makes. The
 *    public test host is served by the local origin; anything else is recorded as a leak (and passed on
 *    to the real network, so a leak to the canary's address also reaches the canary).
 *
 * Instances (each started once):
 *  - hook:   default rules, outbound hook (public test host + redirects from it).
 *  - net:    default rules, real network (the canary must stay silent).
 *  - open:   ALLOW_PRIVATE_SOURCES=true, short deadline and byte cap: misbehaving upstreams on 127.0.0.1.
 *  - signed: SIGNING_KEY set.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RequestListener } from "node:http";
import type { Socket } from "node:net";
import { createHmac } from "node:crypto";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { darkScene, encodeJpeg, encodePng, initFixtures } from "../helpers/fixtures.ts";
import { assertApiError } from "../helpers/errors.ts";
import { startHostileOrigin, type HostileOrigin } from "../helpers/hostile-origin.ts";
import { startOrigin, type Origin } from "../helpers/origin.ts";

const PUBLIC_HOST = "images.example.com";
/**
 * The Workers' own host as they see it. Miniflare would otherwise present every request as
 * 127.0.0.1:<port>, and the "own host" rule would then refuse the loopback spellings before the address
 * rules are even consulted; production Workers run on a public name, so the tests do too.
 */
const SELF_HOST = "enhance.example.net";
/** The open instance's deadline and byte cap (small, so the slow and large cases stay quick). */
const OPEN_TIMEOUT_MS = 1200;
const OPEN_MAX_BYTES = 64 * 1024;
/** The strict instances' deadline: refusals must come long before it. */
const STRICT_TIMEOUT_MS = 2000;
/** Allowance on top of a deadline for a loaded 2-core test machine. */
const MARGIN_MS = 2000;
const SIGNING_KEY = "hostile-sources-test-key-0123456789";
/** Sent by the client on every request of this file; none of it may ever reach an upstream. */
const CLIENT_SECRETS: Record<string, string> = {
  Cookie: "session=cookie-s3cr3t",
  Authorization: "Bearer auth-t0ken",
  "Proxy-Authorization": "Basic proxy-cr3d",
  "X-Forwarded-For": "203.0.113.77",
  "X-Real-IP": "203.0.113.78",
  Forwarded: "for=203.0.113.79",
  "X-Api-Key": "custom-k3y",
  Referer: "https://private-referer.example/",
};
const SECRET_VALUES = ["cookie-s3cr3t", "auth-t0ken", "proxy-cr3d", "203.0.113.77", "203.0.113.78", "203.0.113.79", "custom-k3y", "private-referer"];

// ---------------------------------------------------------------------------------------------------
// Witnesses and the origin

const canaryLog = { connections: [] as string[], requests: [] as string[] };
let canary: Origin;
let P = 0; // the canary's port

const hookLeaks: string[] = [];

let origin: HostileOrigin;
let png: Uint8Array<ArrayBuffer>;
let jpeg: Uint8Array<ArrayBuffer>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startCanary(): Promise<void> {
  const handler: RequestListener = (req, res) => {
    canaryLog.requests.push(`${req.headers.host ?? "?"} ${req.url ?? ""}`);
    res.writeHead(404, { Connection: "close", "Content-Type": "text/plain" });
    res.end("canary");
  };
  try {
    canary = await startOrigin(handler, "::"); // dual stack: 127.0.0.0/8, ::1 and ::ffff:127.x all land here
  } catch {
    canary = await startOrigin(handler); // no IPv6 on this machine
  }
  canary.server.on("connection", (s: Socket) => canaryLog.connections.push(`${s.remoteAddress}`));
  P = canary.port;
}

/** The hook instance's network: the public test host is the origin; everything else is a leak. */
async function hookOutbound(req: Request): Promise<Response> {
  const u = new URL(req.url);
  if (u.hostname === PUBLIC_HOST) {
    return fetch(`${origin.url}${u.pathname}${u.search}`, { headers: req.headers, redirect: "manual" });
  }
  hookLeaks.push(req.url);
  try {
    return await fetch(req.url, { redirect: "manual", signal: AbortSignal.timeout(500) });
  } catch {
    return new Response("leak", { status: 599 });
  }
}

let hook: StartedWorker;
let net: StartedWorker;
let open: StartedWorker;
let signed: StartedWorker;

before(async () => {
  await initFixtures();
  png = await encodePng(darkScene(48, 32));
  jpeg = await encodeJpeg(darkScene(48, 32));
  assert.ok(png.length < OPEN_MAX_BYTES);
  await startCanary();
  origin = await startHostileOrigin(png, jpeg, OPEN_TIMEOUT_MS);
  const strictVars = { FETCH_TIMEOUT_MS: String(STRICT_TIMEOUT_MS) };
  [hook, net, open, signed] = await Promise.all([
    startWorker({ vars: strictVars, outbound: hookOutbound }),
    startWorker({ vars: strictVars }),
    startWorker({
      vars: { ALLOW_PRIVATE_SOURCES: "true", FETCH_TIMEOUT_MS: String(OPEN_TIMEOUT_MS), MAX_SOURCE_BYTES: String(OPEN_MAX_BYTES) },
    }),
    startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", SIGNING_KEY } }),
  ]);
  // Positive control: with the rules lifted, workerd does reach the canary, so silence below means refusal.
  const res = await get(open, `http://127.0.0.1:${P}/control`);
  assert.equal(res.status, 404, res.text); // the canary answers 404, which the proxy passes on as a missing image
  assert.ok(canaryLog.requests.length > 0, "the canary is not reachable from workerd: the witness would prove nothing");
  canaryLog.connections.length = 0;
  canaryLog.requests.length = 0;
});

after(async () => {
  await Promise.all([hook?.dispose(), net?.dispose(), open?.dispose(), signed?.dispose()]);
  await Promise.all([canary?.close(), origin?.close()]);
});

// ---------------------------------------------------------------------------------------------------
// Requests and assertions

interface Answer {
  status: number;
  text: string;
  bytes: Uint8Array;
  headers: Headers;
  ms: number;
}

async function call(worker: StartedWorker, query: string, init: RequestInit = {}): Promise<Answer> {
  const t0 = Date.now();
  const res = await fetch(`${worker.url}/enhance?${query}`, {
    ...init,
    headers: {
      ...CLIENT_SECRETS,
      ...(init.headers as Record<string, string> | undefined),
      // Miniflare's entry worker presents the request to the Worker under this URL (dispatchFetch's mechanism).
      "MF-Original-URL": `http://${SELF_HOST}/enhance?${query}`,
    },
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes, text: new TextDecoder().decode(bytes), headers: res.headers, ms: Date.now() - t0 };
}

const get = (worker: StartedWorker, url: string, extra = "") => call(worker, `url=${encodeURIComponent(url)}${extra}`);

/** The documented error shape: JSON body, the status and code, not cacheable, nothing sniffable. */
function assertError(a: Answer, status: number, code: string, deadlineMs: number): void {
  assertApiError(a, status, code);
  assert.ok(a.ms < deadlineMs + MARGIN_MS, `answered after ${a.ms} ms (deadline ${deadlineMs} ms)`);
}

function assertImage(a: Answer, type: "image/png" | "image/jpeg"): void {
  assert.equal(a.status, 200, a.text.slice(0, 300));
  assert.equal(a.headers.get("Content-Type"), type);
  const magic = type === "image/png" ? [0x89, 0x50, 0x4e, 0x47] : [0xff, 0xd8, 0xff];
  assert.deepEqual([...a.bytes.subarray(0, magic.length)], magic);
}

const ERROR_CODES: Record<number, string> = {
  400: "bad_parameter",
  403: "source_not_allowed",
  404: "source_not_found",
  413: "too_large",
  415: "unsupported_media_type",
  422: "undecodable",
  502: "upstream_error",
  504: "upstream_timeout",
};

// ---------------------------------------------------------------------------------------------------
// 1. Refused first URLs, on both strict instances. `{P}` is the canary's port.

const REFUSED: Array<[name: string, url: string, status: 400 | 403]> = [
  // IPv4 loopback, every spelling the URL parser accepts
  ["dotted loopback", "http://127.0.0.1:{P}/a.png", 403],
  ["short 127.1", "http://127.1:{P}/", 403],
  ["short 127.0.1", "http://127.0.1:{P}/", 403],
  ["decimal 2130706433", "http://2130706433:{P}/", 403],
  ["hex 0x7f000001", "http://0x7f000001:{P}/", 403],
  ["hex short 0x7F.1", "http://0x7F.1:{P}/", 403],
  ["hex per octet", "http://0x7f.0x0.0x0.0x1:{P}/", 403],
  ["octal 0177.0.0.1", "http://0177.0.0.1:{P}/", 403],
  ["octal short 0177.1", "http://0177.1:{P}/", 403],
  ["octal whole 017700000001", "http://017700000001:{P}/", 403],
  ["zero-padded octets", "http://127.000.000.001:{P}/", 403],
  ["trailing dot", "http://127.0.0.1.:{P}/", 403],
  ["two trailing dots", "http://127.0.0.1..:{P}/", 403],
  ["percent-encoded host", "http://%31%32%37.0.0.1:{P}/", 403],
  ["full-width digits", "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{P}/", 403],
  ["ideographic full stops", "http://127\u30020\u30020\u30021:{P}/", 403],
  ["other loopback 127.255.255.254", "http://127.255.255.254:{P}/", 403],
  ["upper-case scheme", "HTTP://127.0.0.1:{P}/", 403],
  ["https", "https://127.0.0.1:{P}/", 403],
  ["backslashes", "http:\\\\127.0.0.1:{P}\\a.png", 403],
  ["tab and newline in host", "http://12\t7.0.0\n.1:{P}/", 403],
  ["leading space and trailing control characters", " \u0001http://127.0.0.1:{P}/\u001f ", 403],
  ["NUL in the host", "http://127.0.0.1%00.images.example.com:{P}/", 400],
  ["fragment pretending a userinfo", "http://127.0.0.1:{P}#@images.example.com/", 403],
  ["query pretending a host", "http://127.0.0.1:{P}?@images.example.com/", 403],
  // unspecified (connects to this host on Linux)
  ["0.0.0.0", "http://0.0.0.0:{P}/", 403],
  ["0", "http://0:{P}/", 403],
  ["0x0", "http://0x0:{P}/", 403],
  ["[::]", "http://[::]:{P}/", 403],
  // IPv6 loopback and IPv4-embedding IPv6
  ["[::1]", "http://[::1]:{P}/", 403],
  ["[0:0:0:0:0:0:0:1]", "http://[0:0:0:0:0:0:0:1]:{P}/", 403],
  ["[0000::0001]", "http://[0000::0001]:{P}/", 403],
  ["mapped dotted [::ffff:127.0.0.1]", "http://[::ffff:127.0.0.1]:{P}/", 403],
  ["mapped hex [::ffff:7f00:1]", "http://[::ffff:7f00:1]:{P}/", 403],
  ["mapped mixed case [::FFFF:7F00:0001]", "http://[::FFFF:7F00:0001]:{P}/", 403],
  ["mapped long form", "http://[0:0:0:0:0:ffff:127.0.0.1]:{P}/", 403],
  ["IPv4-compatible [::127.0.0.1]", "http://[::127.0.0.1]:{P}/", 403],
  ["IPv4-translated [::ffff:0:127.0.0.1]", "http://[::ffff:0:127.0.0.1]:{P}/", 403],
  ["NAT64 [64:ff9b::127.0.0.1]", "http://[64:ff9b::127.0.0.1]:{P}/", 403],
  ["NAT64 hex [64:ff9b::7f00:1]", "http://[64:ff9b::7f00:1]:{P}/", 403],
  ["local-use NAT64 [64:ff9b:1::a00:1]", "http://[64:ff9b:1::a00:1]/", 403],
  ["6to4 of loopback [2002:7f00:1::]", "http://[2002:7f00:1::]:{P}/", 403],
  ["6to4 of 192.168.1.1", "http://[2002:c0a8:101::1]/", 403],
  ["6to4 of the metadata address", "http://[2002:a9fe:a9fe::]/", 403],
  ["Teredo", "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", 403],
  // zone ids: meaningless for a remote fetch, and the URL parser rejects them
  ["zone id [fe80::1%25eth0]", "http://[fe80::1%25eth0]:{P}/", 400],
  ["zone id [::1%25lo]", "http://[::1%25lo]:{P}/", 400],
  ["raw zone id [fe80::1%eth0]", "http://[fe80::1%eth0]/", 400],
  // link-local and cloud metadata
  ["metadata 169.254.169.254", "http://169.254.169.254/latest/meta-data/iam/security-credentials/", 403],
  ["metadata decimal", "http://2852039166/latest/meta-data/", 403],
  ["metadata hex octets", "http://0xa9.0xfe.0xa9.0xfe/", 403],
  ["metadata octal", "http://0251.0376.0251.0376/", 403],
  ["metadata short 169.254.43518", "http://169.254.43518/", 403],
  ["metadata mapped dotted", "http://[::ffff:169.254.169.254]/", 403],
  ["metadata mapped hex", "http://[::ffff:a9fe:a9fe]/", 403],
  ["AWS IMDS IPv6 [fd00:ec2::254]", "http://[fd00:ec2::254]/latest/meta-data/", 403],
  ["GCP metadata name", "http://metadata.google.internal/computeMetadata/v1/", 403],
  ["single-label metadata", "http://metadata/computeMetadata/v1/", 403],
  ["Alibaba metadata (CGNAT)", "http://100.100.100.200/latest/meta-data/", 403],
  ["link-local [fe80::1]", "http://[fe80::1]/", 403],
  ["link-local upper case [FE80::A9FE:A9FE]", "http://[FE80::A9FE:A9FE]/", 403],
  ["link-local [febf:ffff::1]", "http://[febf:ffff::1]/", 403],
  // private
  ["10.0.0.1", "http://10.0.0.1/", 403],
  ["10.255.255.255", "http://10.255.255.255/", 403],
  ["octal 012.0.0.1", "http://012.0.0.1/", 403],
  ["hex 0xa000001", "http://0xa000001/", 403],
  ["172.16.0.1", "http://172.16.0.1/", 403],
  ["172.31.255.255", "http://172.31.255.255/", 403],
  ["192.168.0.1", "http://192.168.0.1/", 403],
  ["short 192.168.257", "http://192.168.257/", 403],
  ["decimal 3232235777", "http://3232235777/", 403],
  ["unique-local [fc00::1]", "http://[fc00::1]/", 403],
  ["unique-local [fd12:3456:789a::1]", "http://[fd12:3456:789a::1]/", 403],
  ["site-local [fec0::1]", "http://[fec0::1]/", 403],
  // CGNAT
  ["CGNAT 100.64.0.1", "http://100.64.0.1/", 403],
  ["CGNAT 100.127.255.254", "http://100.127.255.254/", 403],
  ["CGNAT mapped", "http://[::ffff:100.64.0.1]/", 403],
  // multicast, broadcast, reserved
  ["multicast 224.0.0.1", "http://224.0.0.1/", 403],
  ["broadcast", "http://255.255.255.255/", 403],
  ["reserved 240.0.0.1", "http://240.0.0.1/", 403],
  ["multicast [ff02::1]", "http://[ff02::1]/", 403],
  ["discard-only [100::1]", "http://[100::1]/", 403],
  // local names
  ["localhost", "http://localhost:{P}/", 403],
  ["LOCALHOST", "http://LOCALHOST:{P}/", 403],
  ["LocalHost", "http://LocalHost:{P}/", 403],
  ["localhost.", "http://localhost.:{P}/", 403],
  ["localhost..", "http://localhost..:{P}/", 403],
  ["a.localhost", "http://a.localhost:{P}/", 403],
  ["a.b.LOCALHOST.", "http://a.b.LOCALHOST.:{P}/", 403],
  ["percent-encoded localhost", "http://loca%6Chost:{P}/", 403],
  ["percent-encoded trailing dot", "http://localhost%2e:{P}/", 403],
  ["full-width localhost", "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{P}/", 403],
  ["circled-letter localhost", "http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3:{P}/", 403],
  ["ip6-localhost", "http://ip6-localhost:{P}/", 403],
  [".local", "http://printer.local/", 403],
  [".internal", "http://db.internal/", 403],
  [".lan", "http://router.lan/", 403],
  // credentials
  ["user:pass@", "http://user:pass@images.example.com/a.png", 400],
  ["user@", "http://user@images.example.com/a.png", 400],
  [":pass@", "http://:pass@images.example.com/a.png", 400],
  ["public host as userinfo", "http://images.example.com@127.0.0.1:{P}/", 400],
  ["encoded @ in userinfo", "http://u%40images.example.com:p@127.0.0.1:{P}/", 400],
  // schemes
  ["file:", "file:///etc/passwd", 400],
  ["file://localhost", "file://localhost/etc/passwd", 400],
  ["data: PNG", "data:image/png;base64,iVBORw0KGgo=", 400],
  ["data: SVG", "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>", 400],
  ["ftp:", "ftp://images.example.com/a.png", 400],
  ["javascript:", "javascript:alert(1)", 400],
  ["blob:", "blob:http://images.example.com/0d6f5e8c-2c3a-4c1b-9f8e-1a2b3c4d5e6f", 400],
  ["gopher:", "gopher://127.0.0.1:{P}/_GET%20/", 400],
  ["dict:", "dict://127.0.0.1:{P}/info", 400],
  ["ws:", "ws://images.example.com/socket", 400],
  // not absolute URLs, or not URLs at all
  ["protocol-relative", "//127.0.0.1:{P}/", 400],
  ["no scheme", "127.0.0.1:{P}/a.png", 400],
  ["unclosed bracket", "http://[::1/", 400],
  ["five-part IPv4", "http://1.2.3.4.5/", 400],
  ["octet over 255", "http://256.0.0.1/", 400],
];

describe("refused source URLs: the right status, and nothing reaches the network", { concurrency: 8 }, () => {
  for (const [name, template, status] of REFUSED) {
    test(`${status} ${name}`, async () => {
      const url = template.replaceAll("{P}", String(P));
      for (const worker of [hook, net]) {
        const a = await get(worker, url);
        assertError(a, status, ERROR_CODES[status]!, 0);
        // Refused by the address rules themselves, not by a side rule.
        if (status === 403) assert.match(a.text, /is not allowed: /);
      }
    });
  }

  test("403 the Worker's own host, on any port, in any spelling", async () => {
    for (const worker of [hook, net]) {
      for (const url of [`http://${SELF_HOST}/health`, `https://${SELF_HOST.toUpperCase()}.:8443/enhance?url=x`, `${worker.url}/health`]) {
        const a = await get(worker, url);
        assertError(a, 403, "source_not_allowed", 0);
        if (!url.startsWith(worker.url)) assert.match(a.text, /this service itself/);
      }
    }
  });

  test("control: the public test host is fetched through the hook", async () => {
    assertImage(await get(hook, `http://${PUBLIC_HOST}/img/control.png`, "&strength=0"), "image/png");
  });
});

// ---------------------------------------------------------------------------------------------------
// 2. Redirects from the public test host (hook instance), each hop re-checked.

const pub = (path: string) => `http://${PUBLIC_HOST}${path}`;
const to = (target: string, status = 302) => pub(`/redirect?status=${status}&to=${encodeURIComponent(target)}`);

const REDIRECTS: Array<[name: string, source: () => string, status: 200 | 403 | 502]> = [
  ["302 to the canary on 127.0.0.1", () => to(`http://127.0.0.1:${P}/`), 403],
  ["301 to decimal loopback", () => to(`http://2130706433:${P}/`, 301), 403],
  ["303 to mapped hex loopback", () => to(`http://[::ffff:7f00:1]:${P}/`, 303), 403],
  ["307 to localhost.", () => to(`http://localhost.:${P}/`, 307), 403],
  ["308 to the metadata address", () => to("http://169.254.169.254/latest/meta-data/", 308), 403],
  ["to AWS IMDS IPv6", () => to("http://[fd00:ec2::254]/latest/meta-data/"), 403],
  ["to CGNAT", () => to("http://100.64.0.1/"), 403],
  ["to octal loopback", () => to(`http://0177.0.0.1:${P}/`), 403],
  ["to 6to4 of loopback", () => to(`http://[2002:7f00:1::]:${P}/`), 403],
  ["to [::]", () => to(`http://[::]:${P}/`), 403],
  ["protocol-relative to loopback", () => to(`//127.0.0.1:${P}/`), 403],
  ["backslash protocol-relative to loopback", () => to(`\\\\127.0.0.1:${P}\\`), 403],
  ["https:/ with one slash to loopback", () => to(`https:/127.0.0.1:${P}/`), 403],
  ["two allowed hops, then loopback", () => to(to(to(`http://127.1:${P}/`))), 403],
  ["to the service itself", () => to(`http://${SELF_HOST}/health`), 403],
  ["302 to loopback with a body that never ends", () => pub(`/redirect-endless?to=${encodeURIComponent(`http://127.0.0.1:${P}/`)}`), 403],
  ["to file:", () => to("file:///etc/passwd"), 502],
  ["to data:", () => to("data:image/png;base64,iVBORw0KGgo="), 502],
  ["to javascript:", () => to("javascript:alert(1)"), 502],
  ["to ftp:", () => to("ftp://images.example.com/a.png"), 502],
  ["to blob:", () => to("blob:http://images.example.com/x"), 502],
  ["to gopher: on the canary", () => to(`gopher://127.0.0.1:${P}/_x`), 502],
  ["to a URL with credentials", () => to("http://user:pass@images.example.com/img/x.png"), 502],
  ["to an unparseable URL", () => to("http://[::1/"), 502],
  ["without Location", () => pub("/no-location"), 502],
  ["loop to itself", () => pub("/loop"), 502],
  ["ping-pong loop", () => pub("/ping"), 502],
  ["too many hops (4 > MAX_REDIRECTS 3)", () => pub("/chain/3"), 502],
  ["exactly MAX_REDIRECTS hops", () => pub("/chain/2"), 200],
  ["relative path stays allowed", () => to("/img/relative.png"), 200],
  ["dot-segment relative path", () => pub(`/deep/er/redirect?to=${encodeURIComponent("../../img/dots.png")}`), 200],
  ["protocol-relative to the public host", () => to(`//${PUBLIC_HOST}/img/protocol-relative.png`), 200],
  ["absolute to the public host over 308", () => to(pub("/img/absolute.png"), 308), 200],
];

describe("redirects: every hop re-checked", { concurrency: 8 }, () => {
  for (const [name, source, status] of REDIRECTS) {
    test(`${status} ${name}`, async () => {
      const a = await get(hook, source(), "&strength=0");
      if (status === 200) assertImage(a, "image/png");
      else assertError(a, status, ERROR_CODES[status]!, STRICT_TIMEOUT_MS);
    });
  }

  test("200 relative redirects with private sources allowed (open instance)", async () => {
    assertImage(await get(open, `${origin.url}/redirect?to=${encodeURIComponent("/img/open-rel.png")}`, "&strength=0"), "image/png");
    assertImage(await get(open, `${origin.url}/chain/2`, "&strength=0"), "image/png");
  });
});

// ---------------------------------------------------------------------------------------------------
// 3. Misbehaving upstreams (open instance: ALLOW_PRIVATE_SOURCES, the origin on 127.0.0.1).

const typed = (body: string, type?: string) => `/typed?body=${body}${type === undefined ? "" : `&type=${encodeURIComponent(type)}`}`;

const UPSTREAMS: Array<[name: string, path: string, expect: number | "png" | "jpeg" | "svg", extra?: string]> = [
  // time
  ["trickles one byte per 100 ms", "/trickle", 504],
  ["never sends headers", "/slow-headers", 504],
  ["stalls halfway through the body", "/stall-body", 504],
  ["never ends a chunked body", "/never-ends", 504],
  ["sends a whole image over three deadlines", "/slow-complete", 504],
  ["three quick-enough hops, too slow together", "/slow-hop/2", 504],
  ["Content-Length larger than the body, connection kept open", "/cl-larger-open", 504],
  // length
  ["Content-Length larger than the body, then closes", "/cl-larger-close", 502],
  ["Content-Length smaller than the body (the rest is ignored: a truncated PNG)", "/cl-smaller", 422],
  ["declares 50 MB, over MAX_SOURCE_BYTES", "/cl-over-cap", 413],
  ["endless body without Content-Length", "/endless-fast", 413],
  ["Content-Length of 10^23", "/cl-absurd", 413],
  ["Content-Length that is not a number", "/cl-not-a-number", 502],
  ["gzip bomb (small on the wire, 8 MiB decoded)", "/gzip-bomb", 413],
  ["brotli bomb", "/brotli-bomb", 413],
  ["corrupt gzip body", "/corrupt-gzip", 502],
  ["conflicting Content-Length headers", "/dup-cl", 502],
  ["both Transfer-Encoding: chunked and Content-Length", "/te-and-cl", "png"],
  ["headers that never finish", "/header-drip", 504],
  ["101 Switching Protocols to a GET", "/switching-protocols", 502],
  // workerd's fetch resolves with the interim 103 itself, so the image after it is never seen: refused, not passed.
  ["103 Early Hints, then the image", "/early-hints", 502],
  ["invalid chunked encoding", "/bad-chunk", 502],
  ["not HTTP at all", "/garbage-http", 502],
  ["closes the connection without answering", "/destroy", 502],
  ["a 256 KiB response header", "/huge-header", 502],
  // content types: bytes decide for image types; a declared non-image type is refused unread
  ["HTML labelled image/png", typed("html", "image/png"), 415],
  ["HTML labelled image/jpeg", typed("html", "image/jpeg"), 415],
  ["HTML labelled image/png, format=png requested", typed("html", "image/png"), 415, "&format=png"],
  ["SVG labelled image/svg+xml: passed through, sandboxed", typed("svg", "image/svg+xml"), "svg"],
  ["SVG labelled image/png: the bytes decide", typed("svg", "image/png"), "svg"],
  ["SVG labelled image/jpeg, format=jpeg requested", typed("svg", "image/jpeg"), 415, "&format=jpeg"],
  ["GIF: its first frame, enhanced", typed("gif", "image/gif"), "jpeg"],
  ["text labelled image/png", typed("text", "image/png"), 415],
  ["empty body labelled image/png", typed("empty", "image/png"), 415],
  ["HTML as text/html", typed("html", "text/html"), 415],
  ["PNG labelled text/plain (declared non-image types are refused)", typed("png", "text/plain"), 415],
  ["PNG labelled text/html", typed("png", "text/html"), 415],
  ["JPEG labelled application/json", typed("jpeg", "application/json"), 415],
  ["PNG without Content-Type (sniffed)", typed("png"), "png"],
  ["PNG as application/octet-stream (sniffed)", typed("png", "application/octet-stream"), "png"],
  ["JPEG labelled image/png (bytes win)", typed("jpeg", "image/png"), "jpeg"],
  ["PNG labelled image/jpeg (bytes win)", typed("png", "image/jpeg"), "png"],
  ["PNG labelled IMAGE/PNG; charset=binary", typed("png", "IMAGE/PNG; charset=binary"), "png"],
  // statuses
  ["404: the image is not there", "/status/404", 404],
  ["410: the image is gone", "/status/410", 404],
  ["500", "/status/500", 502],
  ["503", "/status/503", 502],
  ["401 with WWW-Authenticate", "/status/401", 502],
  ["403", "/status/403", 502],
  ["204 No Content", "/status/204", 415],
  ["304 Not Modified (not a redirect)", "/status/304", 502],
  ["300 Multiple Choices", "/status/300", 502],
  ["500 whose body never ends", "/status-endless/500", 502],
  ["connection refused", "@http://127.0.0.1:1/a.png", 502],
];

/** What the 502s say: whether the upstream failed before answering or in the middle of its body. */
const MESSAGES: Record<string, RegExp> = {
  "/cl-larger-close": /body broke off or was malformed/,
  "/bad-chunk": /body broke off or was malformed/,
  "/corrupt-gzip": /body broke off or was malformed/,
  "/garbage-http": /could not be reached: .*did not answer with valid HTTP/,
  "/destroy": /could not be reached: .*did not answer with valid HTTP/,
};

/** Upstreams that never finish on their own. */
const NEVER_END = new Set(["/header-drip", "/trickle", "/slow-headers", "/stall-body", "/never-ends", "/cl-larger-open", "/cl-over-cap", "/cl-absurd", "/endless-fast", "/status-endless/500"]);

describe("misbehaving upstreams: the right status within the deadline", { concurrency: 8 }, () => {
  for (const [name, path, expect, extra = ""] of UPSTREAMS) {
    test(`${typeof expect === "number" ? expect : 200} ${name}`, async () => {
      const src = path.startsWith("@") ? path.slice(1) : `${origin.url}${path}`;
      const a = await get(open, src, `&strength=0${extra}`);
      if (expect === "png") assertImage(a, "image/png");
      else if (expect === "jpeg") assertImage(a, "image/jpeg");
      else if (expect === "svg") {
        // An SVG (this one holds a script) is never rasterised: it goes back as it came, under a policy
        // that runs no script and loads nothing, sandboxed when opened directly.
        assert.equal(a.status, 200, a.text.slice(0, 300));
        assert.equal(a.headers.get("Content-Type"), "image/svg+xml");
        assert.match(a.headers.get("Content-Security-Policy") ?? "", /^default-src 'none';.*\bsandbox$/);
        assert.doesNotMatch(a.headers.get("Content-Security-Policy") ?? "", /script-src/);
        assert.equal(a.headers.get("X-Content-Type-Options"), "nosniff");
      }
      else {
        assertError(a, expect, ERROR_CODES[expect]!, OPEN_TIMEOUT_MS);
        assert.doesNotMatch(a.text, /<svg|<html|<script/i, "upstream content passed through");
        if (MESSAGES[path]) assert.match(a.text, MESSAGES[path]!);
      }
      if (expect === 504) assert.ok(a.ms >= OPEN_TIMEOUT_MS - 100, `504 after only ${a.ms} ms`);
      if (NEVER_END.has(path)) {
        // The Worker gave up on this upstream, so it must also hang up (not keep reading or holding it).
        for (let i = 0; i < 40 && !origin.closed.has(path); i++) await sleep(50);
        assert.ok(origin.closed.has(path), "the upstream connection was left open");
      }
    });
  }

  test("the upstream's response headers never reach the client", async () => {
    const a = await get(open, `${origin.url}/upstream-headers`, "&strength=0");
    assertImage(a, "image/png");
    assert.equal(a.headers.get("Set-Cookie"), null);
    assert.equal(a.headers.get("X-Upstream-Secret"), null);
    assert.equal(a.headers.get("Access-Control-Allow-Origin"), null);
    assert.equal(a.headers.get("Content-Security-Policy"), "default-src 'none'");
  });
});

// ---------------------------------------------------------------------------------------------------
// 4. Signed URLs (signed instance).

describe("signed URLs", { concurrency: 8 }, () => {
  const q = (params: Array<[string, string]>) => params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
  const macOf = (payload: string, key = SIGNING_KEY) => createHmac("sha256", key).update(payload).digest();
  const sorted = (params: Array<[string, string]>) => [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const sigOf = (params: Array<[string, string]>, key = SIGNING_KEY) => macOf(q(sorted(params)), key).toString("base64url");
  const base = (name: string): Array<[string, string]> => [
    ["url", `${origin.url}/img/${name}.png`],
    ["w", "24"],
    ["strength", "0"],
  ];
  const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);

  const CASES: Array<[name: string, query: (p: Array<[string, string]>) => string, status: 200 | 400 | 403]> = [
    ["correct", (p) => `${q(p)}&sig=${sigOf(p)}`, 200],
    ["correct, parameters in another order, sig first", (p) => `sig=${sigOf(p)}&${q([...p].reverse())}`, 200],
    ["correct, url percent-encoded differently", (p) => `${q(p).replace(/%3A/g, "%3a").replace(/%2F/g, "/")}&sig=${sigOf(p)}`, 200],
    ["missing", (p) => q(p), 403],
    ["empty", (p) => `${q(p)}&sig=`, 403],
    ["wrong key", (p) => `${q(p)}&sig=${sigOf(p, "another-key-another-key")}`, 403],
    ["truncated by one character", (p) => `${q(p)}&sig=${sigOf(p).slice(0, -1)}`, 403],
    ["truncated to 16 characters", (p) => `${q(p)}&sig=${sigOf(p).slice(0, 16)}`, 403],
    ["first character changed", (p) => `${q(p)}&sig=${flip(sigOf(p))}`, 403],
    ["one character appended", (p) => `${q(p)}&sig=${sigOf(p)}A`, 403],
    ["padded with =", (p) => `${q(p)}&sig=${sigOf(p)}%3D`, 403],
    ["the right MAC in hex", (p) => `${q(p)}&sig=${macOf(q(sorted(p))).toString("hex")}`, 403],
    ["upper-cased", (p) => `${q(p)}&sig=${sigOf(p).toUpperCase()}`, 403],
    ["signed over the unsorted query", (p) => `${q(p)}&sig=${macOf(q(p)).toString("base64url")}`, 403],
    ["other parameter changed (w)", (p) => `${q(p.map(([k, v]): [string, string] => [k, k === "w" ? "25" : v]))}&sig=${sigOf(p)}`, 403],
    ["parameter added", (p) => `${q([...p, ["q", "90"]])}&sig=${sigOf(p)}`, 403],
    ["parameter removed", (p) => `${q(p.filter(([k]) => k !== "strength"))}&sig=${sigOf(p)}`, 403],
    ["sig for a different url", (p) => `${q(p)}&sig=${sigOf(p.map(([k, v]): [string, string] => [k, k === "url" ? v.replace("/img/", "/img/other-") : v]))}`, 403],
    ["sig for the url with a query appended", (p) => `${q(p.map(([k, v]): [string, string] => [k, k === "url" ? `${v}?x=1` : v]))}&sig=${sigOf(p)}`, 403],
    ["sig given twice", (p) => `${q(p)}&sig=${sigOf(p)}&sig=${sigOf(p)}`, 400],
  ];

  CASES.forEach(([name, query, status], i) => {
    test(`${status} ${name}`, async () => {
      const params = base(`signed-${i}`);
      const a = await call(signed, query(params));
      if (status === 200) assertImage(a, "image/png");
      else {
        assertError(a, status, status === 403 ? "bad_signature" : "bad_parameter", 0);
        assert.equal(origin.seen.filter((s) => s.path.includes(`signed-${i}`)).length, 0, "a refused request was fetched");
      }
    });
  });

  test("403 a GET's signature replayed on POST", async () => {
    const sig = sigOf([["w", "24"]]);
    assertImage(await call(signed, `w=24&sig=${sig}`, { method: "POST", body: png, headers: { "Content-Type": "image/png" } }), "image/png");
    const p = base("signed-post");
    const a = await call(signed, `w=24&strength=0&sig=${sigOf(p)}`, { method: "POST", body: png, headers: { "Content-Type": "image/png" } });
    assertError(a, 403, "bad_signature", 0);
  });
});

// ---------------------------------------------------------------------------------------------------
// 5. The witnesses, after everything above.

describe("witnesses", () => {
  test("the canary saw no connection and the hook no subrequest to a forbidden address", () => {
    assert.deepEqual(canaryLog.requests, []);
    assert.deepEqual(canaryLog.connections, []);
    assert.deepEqual(hookLeaks, []);
  });

  test("no client header (Cookie, Authorization, X-Forwarded-For, custom...) ever reached an upstream", () => {
    assert.ok(origin.seen.length > 40, `only ${origin.seen.length} upstream requests were checked`);
    for (const { path, headers } of origin.seen) {
      const all = JSON.stringify(headers).toLowerCase();
      for (const v of SECRET_VALUES) assert.ok(!all.includes(v.toLowerCase()), `${v} reached ${path}: ${all}`);
      for (const h of ["cookie", "authorization", "proxy-authorization", "x-forwarded-for", "x-real-ip", "forwarded", "x-api-key", "referer"]) {
        assert.equal(headers[h], undefined, `${h} reached ${path}`);
      }
      assert.match(String(headers["user-agent"]), /^lowlight-edge\//);
    }
  });

  test("after all of it, a normal request still succeeds", async () => {
    assertImage(await get(open, `${origin.url}/img/after.png`, "&w=16"), "image/png");
    assertImage(await get(hook, `http://${PUBLIC_HOST}/img/after.png`, "&w=16"), "image/png");
  });
});
