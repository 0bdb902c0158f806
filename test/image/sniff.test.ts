import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { initNodeCodecs } from "../../scripts/lib/node-engine.ts";
import { encode } from "../../src/image/codecs.ts";
import { readHeader, sniffFormat } from "../../src/image/sniff.ts";
import { HttpError } from "../../src/shared/errors.ts";
import { darkGradient, rawPng, withExifOrientation } from "../helpers/fixtures.ts";

await initNodeCodecs();
const img = darkGradient(37, 21);
const png = await encode(img, "png");
const jpeg = await encode(img, "jpeg", { quality: 80 });

function assertHttp(fn: () => unknown, status: number, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof HttpError && e.status === status && e.code === code);
}

test("PNG and JPEG written by the codecs: format and dimensions from the header", () => {
  assert.deepEqual(readHeader(png), { format: "png", width: 37, height: 21, orientation: 1 });
  // JPEG codes colour lossily, in blocks: the chroma pass applies (src/image/chroma.ts).
  assert.deepEqual(readHeader(jpeg), { format: "jpeg", width: 37, height: 21, orientation: 1, lossyColour: true });
  assert.equal(sniffFormat(png), "png");
  assert.equal(sniffFormat(jpeg), "jpeg");
});

test("EXIF orientation from APP1, both byte orders; invalid values read as 1", () => {
  for (let o = 1; o <= 8; o++) {
    assert.equal(readHeader(withExifOrientation(jpeg, o, "MM")).orientation, o);
    assert.equal(readHeader(withExifOrientation(jpeg, o, "II")).orientation, o);
  }
  assert.equal(readHeader(withExifOrientation(jpeg, 9)).orientation, 1);
  assert.equal(readHeader(withExifOrientation(jpeg, 0)).orientation, 1);
  // Dimensions are unaffected by the orientation tag (the decoder's view).
  assert.equal(readHeader(withExifOrientation(jpeg, 6)).width, 37);
});

test("huge declared dimensions are read without decoding", () => {
  const bomb = rawPng(50000, 50000, 8, 6, [], false);
  assert.deepEqual(readHeader(bomb), { format: "png", width: 50000, height: 50000, orientation: 1 });
});

test("unknown formats are 415", () => {
  for (const bytes of [new Uint8Array(0), new Uint8Array([1, 2, 3]), new TextEncoder().encode("GIF90a......"), new TextEncoder().encode("<svg></svg>")]) {
    assert.equal(sniffFormat(bytes), null);
    assertHttp(() => readHeader(bytes), 415, "unsupported_media_type");
  }
});

test("truncated or corrupt headers are 422", () => {
  assertHttp(() => readHeader(png.subarray(0, 20)), 422, "undecodable");
  assertHttp(() => readHeader(jpeg.subarray(0, 3)), 422, "undecodable");
  assertHttp(() => readHeader(jpeg.subarray(0, 30)), 422, "undecodable");
  assertHttp(() => readHeader(rawPng(0, 5, 8, 6, [], false)), 422, "undecodable");
  // A segment whose length runs past the end of the data.
  assertHttp(() => readHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x40, 0x00, 1, 2])), 422, "undecodable");
  // Image data (SOS) before any frame header.
  assertHttp(() => readHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02])), 422, "undecodable");
  // Not a marker where one must be.
  assertHttp(() => readHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x02, 0x12, 0x34])), 422, "undecodable");
});

test("arbitrary bytes after a JPEG or PNG signature never throw anything but HttpError", () => {
  const prefixes = [jpeg.subarray(0, 3), png.subarray(0, 8), jpeg.subarray(0, 24)];
  fc.assert(
    fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 200 }), (prefix, rest) => {
      const bytes = new Uint8Array([...prefix, ...rest]);
      try {
        const h = readHeader(bytes);
        assert.ok(h.width > 0 && h.height > 0 && h.orientation >= 1 && h.orientation <= 8);
      } catch (e) {
        assert.ok(e instanceof HttpError && (e.status === 415 || e.status === 422), String(e));
      }
    }),
    { numRuns: 500 },
  );
});

// ---- WebP and AVIF ----
import { animatedWebp, avif, avifAsSequence, avifDeclaring, OTHER_FORMATS, scene, webp, webpDeclaring, webpEmptyChunk, webpRiffSize } from "../helpers/format-fixtures.ts";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { gridHeic, patternTiles } from "../helpers/heic.ts";
import { codecMemory } from "../../src/image/codecs.ts";

const still = scene(45, 29);
const alphaStill = scene(33, 21, true);
const modern = {
  "webp lossy (VP8)": await webp(still, { quality: 70 }),
  "webp lossless (VP8L)": await webp(still, { lossless: true }),
  "webp alpha (VP8X)": await webp(alphaStill, { quality: 70 }),
  "avif 8-bit": await avif(still),
  "avif 10-bit": await avif(still, { bitDepth: 10 }),
  "avif 12-bit": await avif(still, { bitDepth: 12 }),
  "avif alpha": await avif(alphaStill),
};

test("WebP (VP8, VP8L, VP8X) and AVIF (8/10/12-bit, alpha): format and dimensions from the header", () => {
  for (const [name, bytes] of Object.entries(modern)) {
    const h = readHeader(bytes);
    const [w, hh] = name.includes("alpha") ? [33, 21] : [45, 29];
    const avif = !name.startsWith("webp");
    // jSquash's AVIF encoder writes nclx with unspecified primaries and transfer: sRGB, as far as the service is concerned.
    // Lossy WebP (VP8, also inside VP8X with alpha) and AVIF code colour lossily; VP8L does not.
    const lossy = name !== "webp lossless (VP8L)";
    const expected = {
      format: avif ? "avif" : "webp", width: w, height: hh, orientation: 1,
      ...(avif ? { heifColour: { primaries: 2, transfer: 2 } } : {}), ...(lossy ? { lossyColour: true } : {}),
    };
    assert.deepEqual(h, expected, name);
  }
  assert.equal(sniffFormat(modern["webp lossy (VP8)"]), "webp");
  assert.equal(sniffFormat(modern["avif 8-bit"]), "avif");
});

test("huge WebP canvases and AVIF ispe are read without decoding, and refused before any decoder runs", async () => {
  const stillWebp = modern["webp lossless (VP8L)"];
  assert.deepEqual(readHeader(webpDeclaring(stillWebp, 100000, 100000)), { format: "webp", width: 100000, height: 100000, orientation: 1 });
  assert.deepEqual(readHeader(avifDeclaring(modern["avif 8-bit"], 100000, 100000)), { format: "avif", width: 100000, height: 100000, orientation: 1, heifColour: { primaries: 2, transfer: 2 }, lossyColour: true });
  const engine = await createNodeEngine();
  const before = codecMemory().peak;
  const limits = { maxSourcePixels: 50e6, maxOutputPixels: 4e6, maxFullModePixels: 1e6 };
  for (const bomb of [webpDeclaring(stillWebp, 100000, 100000), avifDeclaring(modern["avif 8-bit"], 100000, 100000)]) {
    await assert.rejects(
      engine.enhance(bomb, { fit: "scale-down", format: "png", strength: "auto", mode: "fast", orient: true, limits }),
      (e: unknown) => e instanceof HttpError && e.status === 422 && e.code === "too_many_pixels" && /100000x100000/.test(e.message),
    );
  }
  const after = codecMemory().peak;
  assert.equal(after.webpDec, before.webpDec, "the WebP decoder never ran");
  assert.equal(after.avifDec, before.avifDec, "the AVIF decoder never ran");
});

test("animation is a 415; lying RIFF sizes, empty chunks and bad ispe are 422", () => {
  assertHttp(() => readHeader(animatedWebp(modern["webp lossless (VP8L)"], 45, 29)), 415, "unsupported_media_type");
  assertHttp(() => readHeader(avifAsSequence(modern["avif 8-bit"])), 415, "unsupported_media_type");
  for (const size of [0, 3, 11, 13]) assertHttp(() => readHeader(webpRiffSize(modern["webp lossy (VP8)"], size)), 422, "undecodable");
  assertHttp(() => readHeader(webpRiffSize(modern["webp lossy (VP8)"], 20)), 422, "undecodable"); // chunk runs past it
  for (const fourcc of ["VP8 ", "VP8L", "VP8X"] as const) assertHttp(() => readHeader(webpEmptyChunk(fourcc)), 422, "undecodable");
  assertHttp(() => readHeader(avifDeclaring(modern["avif 8-bit"], 0, 10)), 422, "undecodable");
  assertHttp(() => readHeader(avifDeclaring(modern["avif 8-bit"], 2 ** 32 - 1, 1)), 422, "undecodable");
  for (const cut of [12, 16, 20, 24, 40]) assertHttp(() => readHeader(modern["avif 8-bit"].subarray(0, cut)), 422, "undecodable");
  for (const cut of [12, 16, 22, 25]) assertHttp(() => readHeader(modern["webp lossy (VP8)"].subarray(0, cut)), 422, "undecodable");
});

test("other formats are a 415 that names them and lists what is accepted", () => {
  for (const [name, bytes] of Object.entries(OTHER_FORMATS)) {
    assert.throws(
      () => readHeader(bytes),
      (e: unknown) => e instanceof HttpError && e.status === 415 && e.message.includes(name) && e.message.includes("PNG, JPEG, WebP, AVIF, HEIC and GIF are allowed"),
      name,
    );
  }
});

test("fast-check: mutated WebP, AVIF and HEIC headers give a header or an HttpError, never another exception", () => {
  for (const [name, base] of Object.entries({ ...modern, "heic grid": gridHeic(patternTiles(), { columns: 2, rows: 2, width: 120, height: 100 }) })) {
    fc.assert(
      fc.property(fc.nat({ max: Math.min(base.length, 400) - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: base.length }), (at, value, cut) => {
        const b = base.slice(0, Math.max(cut, 1));
        if (at < b.length) b[at] = value;
        try {
          const h = readHeader(b);
          assert.ok(h.width > 0 && h.height > 0);
        } catch (e) {
          assert.ok(e instanceof HttpError && e.status >= 400 && e.status < 500, `${name}: ${String(e)}`);
        }
      }),
      { seed: 77, numRuns: 400 },
    );
  }
});

test("AVIF irot and imir become the orientation the pipeline applies, in their association order", () => {
  const box = (type: string, ...payload: number[][]): number[] => {
    const body = payload.flat();
    const size = 8 + body.length;
    return [(size >>> 24) & 255, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, ...[...type].map((c) => c.charCodeAt(0)), ...body];
  };
  const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  /** A header-only AVIF: its primary item 30x20, with `props` (irot/imir payloads) after ispe. */
  const avifWith = (props: Array<["irot" | "imir", number]>): Uint8Array => {
    const ipco = box("ipco", box("ispe", [0, 0, 0, 0], u32(30), u32(20)), ...props.map(([t, v]) => box(t, [v])));
    const ipma = box("ipma", [0, 0, 0, 0], u32(1), [0, 1, 1 + props.length], Array.from({ length: 1 + props.length }, (_, i) => 0x80 | (i + 1)));
    const meta = box("meta", [0, 0, 0, 0], box("pitm", [0, 0, 0, 0], [0, 1]), box("iprp", ipco, ipma));
    return new Uint8Array([...box("ftyp", [..."avif"].map((c) => c.charCodeAt(0)), [0, 0, 0, 0], [..."mif1"].map((c) => c.charCodeAt(0))), ...meta]);
  };
  const orientation = (props: Array<["irot" | "imir", number]>) => readHeader(avifWith(props)).orientation;
  assert.equal(orientation([]), 1);
  assert.deepEqual([0, 1, 2, 3].map((a) => orientation([["irot", a]])), [1, 8, 3, 6], "0, 90, 180, 270 degrees anticlockwise");
  assert.equal(orientation([["imir", 0]]), 2, "about the vertical axis: left and right swap");
  assert.equal(orientation([["imir", 1]]), 4, "about the horizontal axis: top and bottom swap");
  assert.equal(orientation([["irot", 1], ["imir", 0]]), 7, "rotate, then mirror");
  assert.equal(orientation([["imir", 0], ["irot", 1]]), 5, "mirror, then rotate");
  assert.equal(orientation([["irot", 2], ["imir", 1]]), 2);
  const h = readHeader(avifWith([["irot", 3]]));
  assert.deepEqual([h.width, h.height], [30, 20], "the header keeps the stored size; the pipeline turns it");
});
