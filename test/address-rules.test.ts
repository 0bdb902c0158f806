import { test } from "node:test";
import assert from "node:assert/strict";
import { addressRefusal, checkSourceUrl, parseAllowList, parseIPv6, type SourceRules } from "../src/address-rules.ts";
import { HttpError } from "../src/errors.ts";

const strict: SourceRules = { allowPrivate: false, allowList: [], ownHost: "enhance.example.net" };

function status(url: string, rules: SourceRules = strict): number {
  try {
    checkSourceUrl(url, rules);
    return 200;
  } catch (e) {
    assert.ok(e instanceof HttpError, `non-HttpError for ${url}: ${String(e)}`);
    return e.status;
  }
}

/** Every spelling here must be refused with 403 by the address rules (URL parsing normalises them). */
export const REFUSED_ADDRESS_URLS = [
  // IPv4 loopback in every spelling the URL parser accepts
  "http://127.0.0.1/a.png",
  "http://127.1/a.png",
  "http://127.0.1/a.png",
  "http://2130706433/a.png",
  "http://0x7f000001/a.png",
  "http://0x7f.0x0.0x0.0x1/a.png",
  "http://0177.0.0.1/a.png",
  "http://017700000001/a.png",
  "http://0x7f.1/a.png",
  "http://127.0.0.1./a.png",
  "http://127.000.000.001/a.png",
  "http://%31%32%37.0.0.1/a.png",
  "http://\uff11\uff12\uff17.0.0.1/a.png",
  "http://127.255.255.254:8080/a.png",
  // other IPv4 ranges
  "http://0.0.0.0/a.png",
  "http://0/a.png",
  "http://10.0.0.1/a.png",
  "http://10.255.255.255/a.png",
  "http://100.64.0.1/a.png",
  "http://100.127.255.254/a.png",
  "http://169.254.169.254/latest/meta-data/",
  "http://2852039166/latest/meta-data/",
  "http://0xa9fea9fe/",
  "http://172.16.0.1/a.png",
  "http://172.31.255.255/a.png",
  "http://192.0.0.1/a.png",
  "http://192.168.1.1/a.png",
  "http://198.18.0.1/a.png",
  "http://198.19.255.255/a.png",
  "http://224.0.0.1/a.png",
  "http://239.255.255.250/a.png",
  "http://240.0.0.1/a.png",
  "http://255.255.255.255/a.png",
  // IPv6
  "http://[::1]/a.png",
  "http://[0:0:0:0:0:0:0:1]/a.png",
  "http://[::]/a.png",
  "http://[::ffff:127.0.0.1]/a.png",
  "http://[::ffff:7f00:1]/a.png",
  "http://[::ffff:169.254.169.254]/a.png",
  "http://[::ffff:8.8.8.8]/a.png",
  "http://[::127.0.0.1]/a.png",
  "http://[::10.0.0.1]/a.png",
  "http://[::ffff:0:10.0.0.1]/a.png",
  "http://[64:ff9b::127.0.0.1]/a.png",
  "http://[64:ff9b::a9fe:a9fe]/a.png",
  "http://[64:ff9b:1::1]/a.png",
  "http://[2002:7f00:1::]/a.png",
  "http://[2002:a9fe:a9fe::1]/a.png",
  "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/a.png",
  "http://[fe80::1]/a.png",
  "http://[febf::1]/a.png",
  "http://[fc00::1]/a.png",
  "http://[fd12:3456:789a::1]/a.png",
  "http://[ff02::1]/a.png",
  "http://[fec0::1]/a.png",
  "http://[100::1]/a.png",
  // local names
  "http://localhost/a.png",
  "http://LOCALHOST/a.png",
  "http://localhost./a.png",
  "http://foo.localhost/a.png",
  "http://foo.localhost../a.png",
  "http://printer.local/a.png",
  "http://metadata.google.internal/computeMetadata/v1/",
  "http://intranet/a.png",
  // the service itself
  "http://enhance.example.net/enhance?url=x",
  "https://ENHANCE.example.net./a.png",
];

/** Not fetchable at all: 400. */
export const MALFORMED_URLS = [
  "file:///etc/passwd",
  "data:image/png;base64,iVBORw0KGgo=",
  "ftp://example.com/a.png",
  "javascript:alert(1)",
  "gopher://example.com/",
  "http://user:pass@example.com/a.png",
  "http://user@example.com/a.png",
  "https://:secret@example.com/a.png",
  "//example.com/a.png",
  "example.com/a.png",
  "http://[fe80::1%25eth0]/a.png",
  "http://1.2.3.4.5/a.png",
  "http://[::1/a.png",
  "http://exa mple.com/a.png",
];

test("refused addresses answer 403 in every spelling", () => {
  for (const url of REFUSED_ADDRESS_URLS) assert.equal(status(url), 403, url);
});

test("malformed or non-http URLs answer 400", () => {
  for (const url of MALFORMED_URLS) assert.equal(status(url), 400, url);
});

test("public hosts and addresses pass", () => {
  for (const url of [
    "https://example.com/a.png",
    "http://images.example.org:8080/a/b.jpg?x=1",
    "http://8.8.8.8/a.png",
    "http://1.1.1.1/a.png",
    "http://100.63.255.255/a.png",
    "http://100.128.0.0/a.png",
    "http://172.15.255.255/a.png",
    "http://172.32.0.0/a.png",
    "http://198.20.0.0/a.png",
    "http://[2606:4700:4700::1111]/a.png",
    "http://[2002:808:808::1]/a.png", // 6to4 embedding a public address
    "https://xn--bcher-kva.example/a.png",
  ]) {
    assert.equal(status(url), 200, url);
  }
});

test("ALLOW_PRIVATE_SOURCES lifts only the address rules", () => {
  const open: SourceRules = { allowPrivate: true, allowList: [] };
  assert.equal(status("http://127.0.0.1:8787/a.png", open), 200);
  assert.equal(status("http://localhost/a.png", open), 200);
  assert.equal(status("http://[::1]/a.png", open), 200);
  assert.equal(status("file:///etc/passwd", open), 400);
  assert.equal(status("http://u:p@127.0.0.1/a.png", open), 400);
  const listed: SourceRules = { allowPrivate: true, allowList: parseAllowList("img.example.com") };
  assert.equal(status("http://127.0.0.1/a.png", listed), 403);
});

test("allow-list: exact hosts and *.suffix on parsed hostnames, never substrings", () => {
  const rules: SourceRules = { allowPrivate: false, allowList: parseAllowList("images.example.com, *.cdn.example.org") };
  assert.equal(status("https://images.example.com/a.png", rules), 200);
  assert.equal(status("https://IMAGES.example.com./a.png", rules), 200);
  assert.equal(status("https://a.cdn.example.org/a.png", rules), 200);
  assert.equal(status("https://a.b.cdn.example.org/a.png", rules), 200);
  assert.equal(status("https://cdn.example.org/a.png", rules), 403);
  assert.equal(status("https://evilcdn.example.org/a.png", rules), 403);
  assert.equal(status("https://images.example.com.evil.net/a.png", rules), 403);
  assert.equal(status("https://images.example.com@evil.net/a.png", rules), 400);
  assert.equal(status("https://evil.net/images.example.com/a.png", rules), 403);
  assert.equal(status("https://evil.net/?x=.cdn.example.org", rules), 403);
  // the address rules still apply to listed names' literal addresses
  const ip: SourceRules = { allowPrivate: false, allowList: parseAllowList("10.0.0.1") };
  assert.equal(status("http://10.0.0.1/a.png", ip), 403);
});

test("allow-list entries are validated", () => {
  assert.deepEqual(parseAllowList(""), []);
  assert.deepEqual(parseAllowList(" a.example.com  *.b.example.com "), [
    { kind: "exact", host: "a.example.com" },
    { kind: "suffix", suffix: "b.example.com" },
  ]);
  for (const bad of ["http://x.com", "x.com/path", "*x.com", "a.*.com", "u@x.com", "x.com:80"]) {
    assert.throws(() => parseAllowList(bad), /ALLOWED_SOURCES entry/, bad);
  }
});

test("IPv6 parser handles compression and embedded IPv4", () => {
  assert.deepEqual(parseIPv6("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(parseIPv6("::ffff:1.2.3.4"), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
  assert.deepEqual(parseIPv6("2001:db8::"), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
  assert.equal(parseIPv6("1:2:3:4:5:6:7:8:9"), null);
  assert.equal(parseIPv6("1::2::3"), null);
  assert.equal(parseIPv6("fe80::1%eth0"), null);
  assert.equal(addressRefusal("[zz::1]"), "unparseable IPv6 literal");
});
