import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteBudget } from "../../src/source/byte-budget.ts";
import { HttpError } from "../../src/shared/errors.ts";
import { readCapped } from "../../src/source/fetch.ts";

test("leases share one budget; over it is a 503, and release gives everything back", () => {
  const budget = new ByteBudget(100);
  const a = budget.lease();
  const b = budget.lease();
  a.add(60);
  b.add(30);
  assert.equal(budget.used, 90);
  assert.throws(() => b.add(20), (e: unknown) => e instanceof HttpError && e.status === 503 && e.code === "busy");
  assert.equal(budget.used, 90, "a refused add takes nothing");
  a.release();
  a.release(); // idempotent
  assert.equal(budget.used, 30);
  b.add(70);
  b.release();
  assert.equal(budget.used, 0);
});

test("readCapped stops reading and cancels the stream as soon as the budget is spent", async () => {
  const budget = new ByteBudget(10_000);
  const other = budget.lease();
  other.add(6_000);
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(c) {
      pulled++;
      c.enqueue(new Uint8Array(1_000));
    },
    cancel() {
      cancelled = true;
    },
  });
  const lease = budget.lease();
  await assert.rejects(readCapped(body, null, 1_000_000, "request body", lease), (e: unknown) => e instanceof HttpError && e.status === 503);
  assert.ok(cancelled, "the body was not cancelled");
  assert.ok(pulled <= 6, `read ${pulled} chunks past the budget`);
  lease.release();
  other.release();
  assert.equal(budget.used, 0);
});
