/**
 * HEIC: the header (size, tiles, orientation, colour), tile-by-tile decoding at 1/1, 1/2, 1/4
 * against the pattern the fixtures were encoded from, the pipeline (orientation, shrink-on-load,
 * limits), and hostile files: each a 4xx or a correct image, and the next decode still works.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { decode } from "../../src/image/codecs.ts";
import { readHeader, sniffFormat } from "../../src/image/sniff.ts";
import { MAX_HEIF_TILE_PIXELS } from "../../src/image/heif.ts";
import { initFixtures, meanLuma } from "../helpers/fixtures.ts";
import { colrIcc, darkHeicPattern, gridHeic, heicPattern, irot, patternTiles, readHeicFixture, type HeicPicture } from "../helpers/heic.ts";
import type { Engine } from "../../src/engine/engine.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import type { RgbaImage } from "../../src/shared/image.ts";
import { convertToSrgb, parseIcc, type Profile } from "../../src/image/icc.ts";
import { DISPLAY_P3, iccProfile } from "../helpers/icc.ts";

let engine: Engine;
let tiles: HeicPicture[];
let grid: Uint8Array;
before(async () => {
  await initFixtures();
  engine = await createNodeEngine();
  tiles = patternTiles();
  grid = gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100 });
});

const limits = { maxSourcePixels: 48_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 300_000, maxHeicDecodePixels: 4_000_000 };
const opts = (o: Partial<PipelineOptions>): PipelineOptions => ({ fit: "scale-down", format: "png", strength: 0, mode: "fast", orient: true, limits, ...o });

/** Mean absolute difference per channel from `pattern` averaged over n x n blocks (clipped to w x h). */
function errorAgainst(img: RgbaImage, pattern: (x: number, y: number) => [number, number, number], w: number, h: number, n: number): number {
  let sum = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const ref = [0, 0, 0];
      let count = 0;
      for (let yy = y * n; yy < Math.min(h, y * n + n); yy++) {
        for (let xx = x * n; xx < Math.min(w, x * n + n); xx++) {
          const p = pattern(xx, yy);
          for (let c = 0; c < 3; c++) ref[c]! += p[c]!;
          count++;
        }
      }
      for (let c = 0; c < 3; c++) sum += Math.abs(img.data[(y * img.width + x) * 4 + c]! - ref[c]! / count);
    }
  }
  return sum / (img.width * img.height * 3);
}

test("the header: a grid's size, its tiles' size and its orientation; a single image is one tile", () => {
  assert.equal(sniffFormat(grid), "heic");
  assert.deepEqual(readHeader(grid), { format: "heic", width: 120, height: 100, orientation: 1, lossyColour: true, heifTile: { tileWidth: 64, tileHeight: 64 } });
  const dark = readHeicFixture("dark.heic");
  assert.deepEqual(readHeader(dark).heifTile, { tileWidth: 96, tileHeight: 64 });
  // irot 1 (90 degrees anticlockwise) is EXIF orientation 8, irot 3 is 6.
  assert.equal(readHeader(gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100, properties: [irot(1)] })).orientation, 8);
  assert.equal(readHeader(gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100, properties: [irot(3)] })).orientation, 6);
});

test("a grid decodes tile by tile to the pattern it was encoded from, at 1/1, 1/2 and 1/4 (blocks averaged)", async () => {
  for (const n of [1, 2, 4] as const) {
    const img = await decode(grid, "heic", n);
    assert.deepEqual([img.width, img.height], [Math.ceil(120 / n), Math.ceil(100 / n)]);
    const err = errorAgainst(img, heicPattern, 120, 100, n);
    assert.ok(err < 1.5, `1/${n}: mean error ${err.toFixed(2)} levels`);
    assert.ok(img.data.every((v, i) => i % 4 !== 3 || v === 255), "opaque");
  }
  // A tile in the wrong place would be off by tens of levels: the bottom-right corner is the last tile's.
  const full = await decode(grid, "heic", 1);
  const p = (119 + 99 * 120) * 4;
  const want = heicPattern(119, 99);
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(full.data[p + c]! - want[c]!) <= 6, `corner channel ${c}: ${full.data[p + c]} against ${want[c]}`);
  const single = await decode(readHeicFixture("dark.heic"), "heic", 1);
  assert.ok(errorAgainst(single, darkHeicPattern, 96, 64, 1) < 1.5);
});

test("the pipeline: a phone's HEIC is enhanced, turned upright by its irot, and decoded small for a thumbnail", async () => {
  const dark = readHeicFixture("dark.heic");
  const out = await engine.enhance(dark, opts({ strength: "auto", format: "source" }));
  assert.equal(out.format, "jpeg", "format=source: a HEIC is answered as JPEG");
  const before = meanLuma(await decode(dark, "heic", 1));
  const after = meanLuma(await decode(out.bytes, "jpeg", 1));
  assert.ok(after > before * 2, `brightened: ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  const turned = gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100, properties: [irot(3)] });
  const upright = await engine.enhance(turned, opts({}));
  assert.deepEqual([upright.width, upright.height], [100, 120]);
  let decodedAt = 0;
  const thumb = await engine.enhance(grid, opts({ width: 30, probe: (stage, img) => (stage === "decode" ? (decodedAt = img.width) : undefined) }));
  assert.equal(thumb.width, 30);
  assert.equal(decodedAt, 30, "decoded at 1/4 (120 -> 30), not at full size");
});

test("an embedded Display P3 profile (colr prof, as iPhones tag theirs) is converted to sRGB exactly as for other formats", async () => {
  const p3 = iccProfile({ primaries: DISPLAY_P3, description: "Display P3" });
  const tagged = gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100, properties: [colrIcc(p3)] });
  const out = await decode((await engine.enhance(tagged, opts({}))).bytes, "png", 1);
  const want = await decode(grid, "heic", 1);
  convertToSrgb(want.data, parseIcc(p3) as Profile & { kind: "rgb" });
  let max = 0;
  for (let i = 0; i < want.data.length; i++) max = Math.max(max, Math.abs(out.data[i]! - want.data[i]!));
  assert.ok(max <= 1, `within a level of the converter (${max})`);
  const plain = await decode((await engine.enhance(grid, opts({}))).bytes, "png", 1);
  assert.ok(plain.data.some((v, i) => v !== out.data[i]), "the untagged photo is served as it is");
});

test("limits: the decode limit scales a request with no size and names the widest output for one with a size; oversized tiles are refused", async () => {
  const tight = { ...limits, maxHeicDecodePixels: 2000 };
  const scaled = await engine.enhance(grid, opts({ limits: tight }));
  assert.ok(scaled.width * scaled.height <= 2000 && scaled.scaledFrom?.width === 120, `${scaled.width}x${scaled.height}`);
  await assert.rejects(engine.enhance(grid, opts({ limits: tight, width: 100 })), (e: { status?: number; message?: string }) => e.status === 422 && /HEIC source image .* an output at most 30 px wide \(w\) decodes at 1\/4/.test(e.message ?? ""));
  const side = Math.ceil(Math.sqrt(MAX_HEIF_TILE_PIXELS)) + 1;
  const big = gridHeic(tiles, { columns: 2, rows: 2, width: 2 * side, height: 2 * side, tileSize: { width: side, height: side } });
  await assert.rejects(engine.enhance(big, opts({ width: 100 })), (e: { status?: number; message?: string }) => e.status === 422 && /pieces of \d+x\d+ pixels/.test(e.message ?? ""));
});

test("hostile HEICs are a 4xx, never a crash, and the next decode works", async () => {
  const cases: [string, Uint8Array, number][] = [
    ["cut in its data", grid.slice(0, grid.length - 200), 422],
    ["cut in its header", grid.slice(0, 300), 422],
    ["a 65535x65535 grid", gridHeic(tiles, { columns: 2, rows: 2, width: 65535, height: 65535 }), 422],
    ["a grid larger than its tiles cover", gridHeic(tiles, { columns: 2, rows: 2, width: 200, height: 200 }), 422],
    ["tiles declared larger than they are", gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100, tileSize: { width: 128, height: 128 } }), 422],
    ["an overlay instead of a grid", gridHeic(tiles, { columns: 2, rows: 2, width: 120, height: 100, primaryType: "iovl" }), 415],
    ["too few tiles for the grid", gridHeic(tiles.slice(0, 3), { columns: 2, rows: 2, width: 120, height: 100 }), 422],
    // libheif lets a tile take what its declared size needs: one declared larger than the others is refused from the header.
    ["a tile declared 4096x3072 among 64x64 ones", gridHeic([tiles[0]!, { ...tiles[1]!, width: 4096, height: 3072 }, tiles[2]!, tiles[3]!], { columns: 2, rows: 2, width: 120, height: 100 }), 422],
  ];
  // Bit flips in the coded tiles: libde265 conceals or fails, either way no crash.
  for (let k = 0; k < 6; k++) {
    const flipped = grid.slice();
    const at = grid.length - 1 - ((k * 977) % 4000);
    flipped[at] = flipped[at]! ^ 0x5a;
    cases.push([`a flipped byte at ${at}`, flipped, 0]);
  }
  for (const [what, bytes, status] of cases) {
    try {
      const out = await engine.enhance(bytes, opts({ width: 60 }));
      assert.equal(status, 0, `${what}: served (${out.width}x${out.height}) where ${status} was expected`);
    } catch (e) {
      const s = (e as { status?: number }).status;
      assert.ok(s !== undefined && s >= 400 && s < 500, `${what}: ${String(e)}`);
      if (status) assert.equal(s, status, `${what}: ${(e as Error).message}`);
    }
    const next = await decode(grid, "heic", 2);
    assert.ok(errorAgainst(next, heicPattern, 120, 100, 2) < 1.5, `after ${what}, a decode still works`);
  }
});
