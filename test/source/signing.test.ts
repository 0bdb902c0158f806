import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { sign, verifySignature } from "../../src/source/signing.ts";
import { parseQuery } from "../../src/http/params.ts";
import { HttpError } from "../../src/shared/errors.ts";

const KEY = "test-signing-key-0123456789abcdef";

async function verdict(payload: string, sig: string | null): Promise<number> {
  try {
    await verifySignature(KEY, payload, sig);
    return 200;
  } catch (e) {
    assert.ok(e instanceof HttpError);
    assert.equal(e.code, "bad_signature");
    return e.status;
  }
}

test("signature = base64url(HMAC-SHA256(key, payload)) without padding, as node:crypto computes it", async () => {
  const payload = "url=https%3A%2F%2Fexample.com%2Fa.jpg&w=300";
  const expected = createHmac("sha256", KEY).update(payload).digest("base64url");
  assert.equal(await sign(KEY, payload), expected);
  assert.equal(expected.length, 43);
  assert.equal(await verdict(payload, expected), 200);
});

test("missing, wrong, truncated, padded, malformed and other-parameter signatures are 403", async () => {
  const { signingPayload } = parseQuery(new URLSearchParams("url=https%3A%2F%2Fexample.com%2Fa.jpg&w=300"), "GET");
  const good = await sign(KEY, signingPayload);
  const changed = parseQuery(new URLSearchParams("url=https%3A%2F%2Fexample.com%2Fa.jpg&w=301"), "GET").signingPayload;
  const flipped = (good[0] === "A" ? "B" : "A") + good.slice(1);
  assert.equal(await verdict(signingPayload, good), 200);
  assert.equal(await verdict(signingPayload, null), 403);
  assert.equal(await verdict(signingPayload, ""), 403);
  assert.equal(await verdict(signingPayload, flipped), 403);
  assert.equal(await verdict(signingPayload, good.slice(0, 42)), 403);
  assert.equal(await verdict(signingPayload, good.slice(0, 20)), 403);
  assert.equal(await verdict(signingPayload, good + "="), 403);
  assert.equal(await verdict(signingPayload, good + "AAAA"), 403);
  assert.equal(await verdict(signingPayload, "!".repeat(43)), 403);
  assert.equal(await verdict(changed, good), 403);
  assert.equal(await verdict(signingPayload, createHmac("sha256", "another-key-0123456789").update(signingPayload).digest("base64url")), 403);
});
