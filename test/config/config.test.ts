/** The configuration schema (src/config.ts): defaults, overrides, clear errors, and wrangler.toml listing every variable. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ConfigError, getConfig, VARS } from "../../src/config/config.ts";

const KEY = "k".repeat(32);

test("config: defaults, overrides and clear errors", () => {
  const d = getConfig({});
  assert.equal(d.limits.maxSourceBytes, VARS.MAX_SOURCE_BYTES.default);
  assert.equal(d.limits.fetchTimeoutMs, VARS.FETCH_TIMEOUT_MS.default);
  assert.equal(d.allowPrivate, false);
  assert.equal(d.signingKey, null);
  assert.deepEqual(d.allowList, []);
  const c = getConfig({
    MAX_SOURCE_BYTES: "1_000_000",
    MAX_REDIRECTS: 0,
    ALLOW_PRIVATE_SOURCES: "true",
    ALLOWED_SOURCES: "*.example.com",
    SIGNING_KEY: KEY,
  });
  assert.equal(c.limits.maxSourceBytes, 1_000_000);
  assert.equal(c.limits.maxRedirects, 0);
  assert.equal(c.allowPrivate, true);
  assert.equal(c.signingKey, KEY);
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ MAX_SOURCE_BYTES: "lots" }, /MAX_SOURCE_BYTES must be an integer from 1024/],
    [{ MAX_SOURCE_PIXELS: "-5" }, /MAX_SOURCE_PIXELS/],
    [{ FETCH_TIMEOUT_MS: "1.5" }, /FETCH_TIMEOUT_MS/],
    [{ MAX_REDIRECTS: "99" }, /MAX_REDIRECTS must be an integer from 0 to 20/],
    [{ ALLOW_PRIVATE_SOURCES: "yes" }, /ALLOW_PRIVATE_SOURCES must be "true" or "false"/],
    [{ ALLOWED_SOURCES: "https://x.com/" }, /ALLOWED_SOURCES entry/],
    [{ SIGNING_KEY: "short" }, /SIGNING_KEY must be at least 16/],
    [{ RATE_LIMIT_PERIOD: "soon" }, /RATE_LIMIT_PERIOD must be an integer from 1 to 86400/],
    [{ RATE_LIMIT_FAIL: "shut" }, /RATE_LIMIT_FAIL must be "open" or "closed"/],
    [{ MAX_BUFFERED_BYTES: "2048", MAX_SOURCE_BYTES: "4096" }, /MAX_BUFFERED_BYTES \(2048\) must be at least MAX_SOURCE_BYTES/],
  ];
  for (const [env, msg] of bad) assert.throws(() => getConfig(env), (e: unknown) => e instanceof ConfigError && msg.test(e.message));
});

test("config: the rate limit's period and failure mode", () => {
  assert.deepEqual(getConfig({}).rateLimit, { periodSeconds: 60, failClosed: false });
  assert.deepEqual(getConfig({ RATE_LIMIT_PERIOD: "10", RATE_LIMIT_FAIL: "closed" }).rateLimit, { periodSeconds: 10, failClosed: true });
});

test("wrangler.toml's [vars] lists every variable with its default, and nothing else", () => {
  const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
  const section = /^\[vars\]\n([\s\S]*?)(?=^\[)/m.exec(toml);
  assert.ok(section, "wrangler.toml has a [vars] section");
  const listed = new Map<string, string>();
  for (const line of section[1]!.split("\n")) {
    const m = /^([A-Z_]+)\s*=\s*"([^"]*)"\s*$/.exec(line.trim());
    if (m) listed.set(m[1]!, m[2]!);
  }
  assert.deepEqual([...listed.keys()].sort(), Object.keys(VARS).sort());
  for (const [name, spec] of Object.entries(VARS)) {
    assert.equal(listed.get(name), String(spec.default), `${name} in wrangler.toml`);
  }
  // What wrangler would pass (strings) resolves to the defaults.
  assert.deepEqual(getConfig(Object.fromEntries(listed)), getConfig({}));
});
