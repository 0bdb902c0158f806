/**
 * WebP and AVIF through the real Worker bundle in workerd: format=auto from Accept (AVIF > WebP >
 * source), the negotiated format in the ETag and cache key (not the raw Accept), explicit formats and q,
 * dpr, the AVIF output limit (auto falls back to WebP, explicit avif is a 422) and /health.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { darkScene, decodeAny, encodeJpeg, encodePng, initFixtures, meanLuma, paint } from "../helpers/fixtures.ts";
import { avif, webp } from "../helpers/format-fixtures.ts";
import { DISPLAY_P3, iccProfile, pngWithIcc } from "../helpers/icc.ts";
import { expectError } from "../helpers/errors.ts";
import { gridHeic, heicPattern, patternTiles, readHeicFixture } from "../helpers/heic.ts";
import { imageOrigin } from "../helpers/origin.ts";

const CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const SAFARI = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const AVIF_LIMIT = 64 * 48;

let worker: StartedWorker;
let origin: Awaited<ReturnType<typeof imageOrigin>>;
let jpeg: Uint8Array;

before(async () => {
  await initFixtures();
  jpeg = await encodeJpeg(darkScene(96, 64));
  origin = await imageOrigin(() => jpeg);
  worker = await startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true", MAX_AVIF_PIXELS: String(AVIF_LIMIT), MAX_OUTPUT_PIXELS: String(400 * 300), MAX_AVIF_SOURCE_PIXELS: String(100 * 80) } });
});
after(async () => {
  await worker?.dispose();
  await origin?.close();
});

const post = (body: Uint8Array, query = "", headers: Record<string, string> = {}) =>
  fetch(`${worker.url}/enhance${query ? `?${query}` : ""}`, {
    method: "POST",
    body: body as unknown as BodyInit,
    headers: { "Content-Type": "application/octet-stream", ...headers },
  });

async function ok(res: Response, type: string) {
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, new TextDecoder().decode(bytes.subarray(0, 300)));
  assert.equal(res.headers.get("Content-Type"), type);
  return { bytes, img: await decodeAny(bytes), res };
}

test("format=auto: AVIF to Chrome/Firefox and Safari, WebP where only WebP is listed, the source's format otherwise", async () => {
  for (const [accept, type] of [
    [CHROME, "image/avif"],
    [SAFARI, "image/avif"],
    ["image/webp,*/*", "image/webp"],
    ["image/avif;q=0,image/webp", "image/webp"],
    ["*/*", "image/jpeg"],
    ["image/*", "image/jpeg"],
    ["image/png", "image/png"],
  ] as const) {
    const { res, img } = await ok(await post(jpeg, "w=48", { Accept: accept }), type);
    assert.equal(res.headers.get("Vary"), "Accept", accept);
    assert.equal(img.width, 48);
  }
  // An explicit format does not vary.
  const { res } = await ok(await post(jpeg, "format=webp", { Accept: CHROME }), "image/webp");
  assert.equal(res.headers.get("Vary"), null);
});

test("WebP and AVIF uploads are enhanced (brighter), in every output format", async () => {
  const scene = darkScene(64, 48); // = the AVIF limit
  for (const [name, body] of [
    ["webp", await webp(scene, { quality: 90 })],
    ["avif", await avif(scene, { quality: 90 })],
    ["png", await encodePng(scene)],
  ] as const) {
    for (const format of ["jpeg", "png", "webp", "avif"] as const) {
      const { img } = await ok(await post(body, `format=${format}`), `image/${format}`);
      assert.equal(`${img.width}x${img.height}`, "64x48", `${name} -> ${format}`);
      assert.ok(meanLuma(img) > meanLuma(scene) + 20, `${name} -> ${format}: ${meanLuma(img).toFixed(1)} vs ${meanLuma(scene).toFixed(1)}`);
    }
  }
});

test("q applies to jpeg, webp and avif; PNG is lossless whatever q says", async () => {
  for (const format of ["jpeg", "webp", "avif"] as const) {
    const low = await ok(await post(jpeg, `format=${format}&q=10&w=64`), `image/${format}`);
    const high = await ok(await post(jpeg, `format=${format}&q=95&w=64`), `image/${format}`);
    assert.ok(low.bytes.length < high.bytes.length, `${format}: q=10 ${low.bytes.length} B, q=95 ${high.bytes.length} B`);
  }
  const a = await ok(await post(jpeg, "format=png&q=10"), "image/png");
  const b = await ok(await post(jpeg, "format=png&q=95"), "image/png");
  assert.deepEqual(a.bytes, b.bytes);
  assert.equal(a.res.headers.get("ETag"), b.res.headers.get("ETag"));
});

test("dpr multiplies w and h; over the output limit it is a 422 naming the limit", async () => {
  const { img } = await ok(await post(await encodeJpeg(darkScene(400, 300)), "w=100&h=80&fit=cover&dpr=1.5&format=png"), "image/png");
  assert.equal(`${img.width}x${img.height}`, "150x120");
  const big = await encodeJpeg(darkScene(400, 300));
  const res = await post(big, "w=300&dpr=2&fit=contain&format=png");
  // contain enlarges to the box: 600x450 is over the 120000-pixel output limit.
  const text = await res.text();
  assert.equal(res.status, 422, text);
  assert.match(text, /too_many_pixels/);
  assert.match(text, /the limit is 120000/);
  const bad = await post(big, "w=100&dpr=4.5");
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { error: { message: string } };
  assert.match(body.error.message, /dpr="4.5" is not allowed; use a number from 1 to 4/);
});

test("AVIF above MAX_AVIF_PIXELS: format=auto serves WebP, format=avif is a 422", async () => {
  const big = await encodeJpeg(darkScene(80, 60)); // 4800 px > 3072
  await ok(await post(big, "", { Accept: CHROME }), "image/webp");
  await ok(await post(big, "w=60", { Accept: CHROME }), "image/avif"); // 60x45 fits
  const res = await post(big, "format=avif");
  assert.equal(res.status, 422);
  const e = ((await res.json()) as { error: { message: string; param?: string } }).error;
  assert.match(e.message, /AVIF output is 80x60 = 4800 pixels; the limit is 3072/);
  assert.equal(e.param, "format");
});

test("an AVIF source over MAX_AVIF_SOURCE_PIXELS is a 422 from its header; WebP sources follow MAX_SOURCE_PIXELS", async () => {
  const res = await post(await avif(darkScene(101, 80)));
  const e = await expectError(res, 422, "too_many_pixels");
  assert.match(e.message, /the AVIF source image is 101x80 = 8080 pixels; the limit is 8000/);
  await ok(await post(await webp(darkScene(101, 80)), "format=png"), "image/png");
});

test("GET: the cache key is the negotiated format, so two browsers' Accept headers share one entry", async () => {
  const url = `${worker.url}/enhance?url=${encodeURIComponent(`${origin.url}/night.jpg`)}&w=40`;
  const hits = () => origin.hits("/night.jpg");
  const chrome = await ok(await fetch(url, { headers: { Accept: CHROME } }), "image/avif");
  const etag = chrome.res.headers.get("ETag")!;
  let safari: Response | undefined;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 50)); // cache.put runs in waitUntil
    safari = await fetch(url, { headers: { Accept: SAFARI } });
    await safari.arrayBuffer();
    if (hits() === 1) break;
  }
  assert.equal(hits(), 1, "Safari's request was served from Chrome's entry");
  assert.equal(safari!.headers.get("ETag"), etag);
  assert.equal(safari!.headers.get("Content-Type"), "image/avif");
  const webpEtag = (await ok(await fetch(url, { headers: { Accept: "image/webp" } }), "image/webp")).res.headers.get("ETag");
  assert.notEqual(webpEtag, etag);
  const notModified = await fetch(url, { headers: { Accept: SAFARI, "If-None-Match": etag } });
  assert.equal(notModified.status, 304);
});

test("HEIC (a phone's grid of tiles) is read in the Worker: enhanced and answered as JPEG, or in the format asked for", async () => {
  const grid = gridHeic(patternTiles(), { columns: 2, rows: 2, width: 120, height: 100 });
  const { img } = await ok(await post(grid, "strength=0&format=png", { "Content-Type": "image/heic" }), "image/png");
  assert.deepEqual([img.width, img.height], [120, 100]);
  let err = 0;
  for (let y = 0; y < 100; y++) for (let x = 0; x < 120; x++) for (let c = 0; c < 3; c++) err += Math.abs(img.data[(y * 120 + x) * 4 + c]! - heicPattern(x, y)[c]!);
  assert.ok(err / (120 * 100 * 3) < 1.5, `mean error ${(err / 36000).toFixed(2)} against the pattern`);
  const dark = readHeicFixture("dark.heic");
  const enhanced = await ok(await post(dark, "", { Accept: "*/*" }), "image/jpeg");
  assert.ok(meanLuma(enhanced.img) > 0.15, `brightened to ${meanLuma(enhanced.img).toFixed(3)}`);
  const thumb = await ok(await post(grid, "w=30", { Accept: "image/webp" }), "image/webp");
  assert.equal(thumb.img.width, 30);
});

test("/health lists the formats, the auto rule and the AVIF limit", async () => {
  const h = (await (await fetch(`${worker.url}/health`)).json()) as { formats: { inputs: string[]; outputs: string[]; avifMaxPixels: number; defaultQuality: Record<string, number> } };
  assert.deepEqual(h.formats.inputs, ["png", "jpeg", "webp", "avif", "heic", "gif", "svg"]);
  assert.deepEqual(h.formats.outputs, ["auto", "jpeg", "png", "webp", "avif"]);
  assert.equal(h.formats.avifMaxPixels, AVIF_LIMIT);
  assert.deepEqual(Object.keys(h.formats.defaultQuality).sort(), ["avif", "jpeg", "webp"]);
});

test("an embedded Display P3 profile is converted in the Worker: P3 (128, 0, 0) is sRGB (141, 0, 0)", async () => {
  const red = paint(16, 16, () => [128, 0, 0]);
  const tagged = pngWithIcc(await encodePng(red), iccProfile({ primaries: DISPLAY_P3, description: "Display P3" }));
  const { img } = await ok(await post(tagged, "strength=0&format=png"), "image/png");
  const [r, g, b] = [img.data[0]!, img.data[1]!, img.data[2]!];
  assert.ok(Math.abs(r - 141) <= 1 && g === 0 && b === 0, `got (${r}, ${g}, ${b})`);
  const plain = await ok(await post(await encodePng(red), "strength=0&format=png"), "image/png");
  assert.deepEqual([...plain.img.data.subarray(0, 3)], [128, 0, 0], "untagged is sRGB: unchanged");
});
