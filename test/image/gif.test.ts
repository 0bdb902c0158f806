/** GIF sources (src/image/codecs.ts, omggif): the first frame, exactly; hostile GIFs refused. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { decode } from "../../src/image/codecs.ts";
import { HttpError } from "../../src/shared/errors.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import { gif, GIF_PALETTE as PALETTE } from "../helpers/format-fixtures.ts";

const engine = await createNodeEngine();
const limits = { maxSourcePixels: 4_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 100_000, maxGifSourcePixels: 1_000_000 };
const asIs: PipelineOptions = { fit: "scale-down", format: "png", strength: 0, mode: "fast", orient: true, limits };

const colour = (i: number) => [(PALETTE[i]! >> 16) & 255, (PALETTE[i]! >> 8) & 255, PALETTE[i]! & 255];

test("a still GIF decodes to its exact pixels and is enhanced; format=source serves JPEG, or PNG when it is transparent", async () => {
  const still = gif(30, 20, 1, (_k, x, y) => (x + y) % 8);
  const out = await decode((await engine.enhance(still, asIs)).bytes, "png");
  for (let i = 0; i < 30 * 20; i++) assert.deepEqual([...out.data.subarray(i * 4, i * 4 + 3)], colour(((i % 30) + Math.floor(i / 30)) % 8), `pixel ${i}`);
  const dark = gif(30, 20, 1, (_k, x) => (x % 2 ? 1 : 2));
  const r = await engine.enhance(dark, { ...asIs, strength: 1, format: "source" });
  assert.equal(r.format, "jpeg");
  const brighter = await decode(r.bytes, "jpeg");
  assert.ok(brighter.data[0]! > colour(2)[0]! || brighter.data[4]! > colour(1)[0]!, "enhanced");
  const transparent = gif(8, 8, 1, (_k, x) => (x < 4 ? 0 : 3), 0);
  assert.equal((await engine.enhance(transparent, { ...asIs, format: "source" })).format, "png");
});

test("an animated GIF is served as its first frame", async () => {
  const anim = gif(16, 12, 3, (k) => [3, 4, 5][k]!);
  const out = await decode((await engine.enhance(anim, asIs)).bytes, "png");
  assert.equal(out.width, 16);
  for (let i = 0; i < 16 * 12; i++) assert.deepEqual([...out.data.subarray(i * 4, i * 4 + 3)], [255, 0, 0], `pixel ${i} is the first frame's red`);
});

test("hostile GIFs: a huge screen, a cut anywhere, no image, an unknown block: 422, and the engine goes on", async () => {
  const refuse = async (bytes: Uint8Array, why: RegExp) => {
    await assert.rejects(engine.enhance(bytes, asIs), (e: unknown) => e instanceof HttpError && e.status === 422 && why.test(e.message), String(why));
  };
  const still = gif(40, 30, 2, (k, x, y) => (x * y + k) % 8);
  const huge = still.slice();
  huge.set([0xff, 0xff, 0xff, 0xff], 6); // a 65535 x 65535 screen
  await refuse(huge, /65535x65535 = .* pixels; the limit is 4000000/);
  const overGifLimit = gif(1200, 1000, 1, () => 1); // 1.2 MP: under the general limit, over the GIF one
  await refuse(overGifLimit, /the GIF source image is 1200x1000 = 1200000 pixels; the limit is 1000000/);
  for (let cut = 13; cut < still.length; cut += 5) await refuse(still.subarray(0, cut), /truncated|no image/);
  await refuse(still.subarray(0, still.length - 1), /truncated/);
  await refuse(new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), /no image/);
  const unknown = still.slice();
  unknown[13 + 3 * 8] = 0x99; // the first block after the colour table
  await refuse(unknown, /unknown block 0x99/);
  assert.equal((await engine.enhance(still, asIs)).width, 40);
});

test("damaged LZW data that would loop omggif forever is refused at once; random damage always ends", async () => {
  // A corpus mutation (one byte of a 28x18 GIF's image data overwritten) on which omggif's decoder
  // never returned: code 14 arrives when the table ends at 13.
  const looping = Uint8Array.from(Buffer.from(
    "4749463839611c001200820000000000102030405060ff000000ff000000ffffffff80808021f904000a0000002c000000001c00120000034c08214365473107657b710d4df34456177e15079ae577a5abd7868f88ba32799c36cc8a3bfece0a9aaff613e8843d167099e3349fc54b94488d0dafc95bf6c8dd327fc83077318612bfd55d02003b",
    "hex",
  ));
  await assert.rejects(engine.enhance(looping, asIs), (e: unknown) => e instanceof HttpError && e.status === 422 && /LZW code 14 where the table ends at 13/.test(e.message));
  // Every byte of a GIF's image data overwritten, one at a time, with a value that breaks the code stream.
  const still = gif(28, 18, 1, (_k, x, y) => (x + y) % 8);
  const start = still.indexOf(0x2c) + 10; // after the image descriptor: the LZW data
  let refused = 0, served = 0;
  for (let at = start; at < still.length - 1; at++) {
    for (const v of [0x00, 0x7f, 0xff]) {
      const bad = still.slice();
      bad[at] = v;
      try {
        await engine.enhance(bad, asIs);
        served++;
      } catch (e) {
        assert.ok(e instanceof HttpError && e.status === 422, String(e));
        refused++;
      }
    }
  }
  assert.ok(refused > 0 && refused + served > 200, `${refused} refused, ${served} served`);
});
