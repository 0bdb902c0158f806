import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { initNodeCodecs } from "../../scripts/lib/node-engine.ts";
import { encode } from "../../src/image/codecs.ts";
import { readHeader, sniffFormat } from "../../src/image/sniff.ts";
import { HttpError } from "../../src/shared/errors.ts";
import { darkGradient, rawPng, withExifOrientation } from "../fixtures/images.ts";

await initNodeCodecs();
const img = darkGradient(37, 21);
const png = await encode(img, "png");
const jpeg = await encode(img, "jpeg", { quality: 80 });

function assertHttp(fn: () => unknown, status: number, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof HttpError && e.status === status && e.code === code);
}

test("PNG and JPEG written by the codecs: format and dimensions from the header", () => {
  assert.deepEqual(readHeader(png), { format: "png", width: 37, height: 21, orientation: 1 });
  assert.deepEqual(readHeader(jpeg), { format: "jpeg", width: 37, height: 21, orientation: 1 });
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
  for (const bytes of [new Uint8Array(0), new Uint8Array([1, 2, 3]), new TextEncoder().encode("GIF89a......"), new TextEncoder().encode("<svg></svg>")]) {
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
