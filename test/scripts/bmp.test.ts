// BMP decoding for training data: 24-bit bottom-up, 8-bit palette, 32-bit bitfields top-down, and
// refusal of compressed or truncated files.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeBmp, isBmp } from "../../scripts/tf/bmp.ts";

/** A BMP with a 40-byte (or 56-byte, with bitfields) info header, rows padded to 4 bytes. */
function bmp(opts: { w: number; h: number; bpp: number; compression?: number; palette?: number[][]; masks?: number[]; topDown?: boolean; pixel: (x: number, y: number) => number[] }): Uint8Array {
  const { w, h, bpp } = opts;
  const rowBytes = Math.ceil((w * bpp) / 32) * 4;
  const infoSize = opts.masks ? 56 : 40;
  const paletteBytes = (opts.palette?.length ?? 0) * 4;
  const dataOffset = 14 + infoSize + paletteBytes;
  const out = new Uint8Array(dataOffset + rowBytes * h);
  const v = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, out.length, true);
  v.setUint32(10, dataOffset, true);
  v.setUint32(14, infoSize, true);
  v.setInt32(18, w, true);
  v.setInt32(22, opts.topDown ? -h : h, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, bpp, true);
  v.setUint32(30, opts.compression ?? 0, true);
  v.setUint32(46, opts.palette?.length ?? 0, true);
  opts.masks?.forEach((m, i) => v.setUint32(54 + 4 * i, m, true));
  opts.palette?.forEach(([r, g, b], i) => out.set([b!, g!, r!, 0], 14 + infoSize + 4 * i));
  for (let y = 0; y < h; y++) {
    const row = dataOffset + (opts.topDown ? y : h - 1 - y) * rowBytes;
    for (let x = 0; x < w; x++) out.set(opts.pixel(x, y), row + (x * bpp) / 8);
  }
  return out;
}

const rgbAt = (img: { width: number; data: Uint8Array }, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));

describe("BMP decoder", () => {
  it("24-bit bottom-up, BGR, padded rows", () => {
    const b = bmp({ w: 3, h: 2, bpp: 24, pixel: (x, y) => [x * 10, y * 100, 200] }); // stored B, G, R
    assert.ok(isBmp(b));
    const img = decodeBmp(b);
    assert.equal(img.width, 3);
    assert.equal(img.height, 2);
    assert.deepEqual(rgbAt(img, 2, 1), [200, 100, 20, 255]);
    assert.deepEqual(rgbAt(img, 0, 0), [200, 0, 0, 255]);
  });

  it("8-bit palette", () => {
    const img = decodeBmp(bmp({ w: 2, h: 2, bpp: 8, palette: [[1, 2, 3], [250, 128, 7]], pixel: (x, y) => [(x + y) % 2] }));
    assert.deepEqual(rgbAt(img, 1, 0), [250, 128, 7, 255]);
    assert.deepEqual(rgbAt(img, 1, 1), [1, 2, 3, 255]);
  });

  it("32-bit bitfields, top-down, with alpha", () => {
    const masks = [0x000000ff, 0x0000ff00, 0x00ff0000, 0xff000000]; // R in the low byte
    const img = decodeBmp(bmp({ w: 2, h: 1, bpp: 32, compression: 3, masks, topDown: true, pixel: (x) => [10 + x, 20, 30, 128] }));
    assert.deepEqual(rgbAt(img, 1, 0), [11, 20, 30, 128]);
  });

  it("refuses RLE, truncation and nonsense with a clear error", () => {
    const ok = bmp({ w: 4, h: 4, bpp: 24, pixel: () => [1, 2, 3] });
    const rle = ok.slice();
    new DataView(rle.buffer).setUint32(30, 1, true);
    assert.throws(() => decodeBmp(rle), /compression type 1/);
    assert.throws(() => decodeBmp(ok.subarray(0, ok.length - 5)), /runs past the end/);
    const huge = ok.slice();
    new DataView(huge.buffer).setInt32(18, 1 << 30, true);
    assert.throws(() => decodeBmp(huge), /dimensions/);
    assert.throws(() => decodeBmp(new Uint8Array([0x42, 0x4d, 1])), /missing BM header/);
  });
});
