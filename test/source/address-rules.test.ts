import { test } from "node:test";
import assert from "node:assert/strict";
import { addressRefusal, checkSourceUrl, parseAllowList, parseIPv6, type SourceRules } from "../../src/source/address-rules.ts";
import { HttpError } from "../../src/shared/errors.ts";
import { MALFORMED_URLS, REFUSED_ADDRESS_URLS } from "../helpers/hostile-urls.ts";

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

test("the service's own host is refused on any port; with ALLOW_PRIVATE_SOURCES only on its own port", () => {
  assert.equal(status("https://enhance.example.net:8443/a.png"), 403);
  const local: SourceRules = { allowPrivate: true, allowList: [], ownHost: "127.0.0.1:8787" };
  assert.equal(status("http://127.0.0.1:8787/enhance", local), 403);
  assert.equal(status("http://127.0.0.1:9000/a.png", local), 200);
  assert.equal(status("http://127.0.0.1/a.png", { ...local, ownHost: "127.0.0.1" }), 403);
});
