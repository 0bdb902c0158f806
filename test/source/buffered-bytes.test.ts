/**
 * The isolate-wide budget of buffered source bytes, end to end in workerd: while one upload is held
 * open with most of the budget, a second is refused 503 (Retry-After) instead of piling up in memory;
 * once the first finishes, its bytes are given back and the same upload succeeds.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { encodePng, initFixtures, paint } from "../helpers/fixtures.ts";
import { mulberry32 } from "../../src/shared/rng.ts";
import { expectError } from "../helpers/errors.ts";

let worker: StartedWorker;
let png: Uint8Array<ArrayBuffer>;

before(async () => {
  await initFixtures();
  const rand = mulberry32(5);
  // Noise does not compress: about 3 bytes per pixel.
  png = await encodePng(paint(180, 180, () => [rand() * 255, rand() * 255, rand() * 255].map(Math.floor) as [number, number, number]));
  assert.ok(png.length > 100_000 && png.length < 150_000, `fixture is ${png.length} bytes`);
  worker = await startWorker({ vars: { MAX_SOURCE_BYTES: "150000", MAX_BUFFERED_BYTES: "150000" } });
});
after(() => worker?.dispose());

test("a second upload while the first holds the budget is a 503 with Retry-After; afterwards it passes", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const cut = png.length - 10;
  const slow = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(png.subarray(0, cut));
      await held;
      c.enqueue(png.subarray(cut));
      c.close();
    },
  });
  const first = fetch(`${worker.url}/enhance?strength=0&format=png`, {
    method: "POST",
    headers: { "Content-Type": "image/png" },
    body: slow,
    duplex: "half",
  } as RequestInit);
  // Give workerd time to read the first part of the held upload.
  await new Promise((r) => setTimeout(r, 500));
  const second = await fetch(`${worker.url}/enhance?strength=0&format=png`, { method: "POST", headers: { "Content-Type": "image/png" }, body: png });
  assert.equal(second.headers.get("Retry-After"), "1");
  await expectError(second, 503, "busy");
  release();
  const res = await first;
  assert.equal(res.status, 200, await res.clone().text());
  await res.arrayBuffer();
  const again = await fetch(`${worker.url}/enhance?strength=0&format=png`, { method: "POST", headers: { "Content-Type": "image/png" }, body: png });
  assert.equal(again.status, 200, "the budget was not given back");
  await again.arrayBuffer();
});
