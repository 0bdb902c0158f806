/**
 * ICC profiles written by the tests (v2 matrix/TRC, the kind phones and cameras embed), and the ways
 * formats carry them: a JPEG APP2 ICC_PROFILE segment (split in parts on request), a PNG iCCP chunk.
 * The colorants are computed here from chromaticities and adapted to D50 with Bradford, as profile
 * makers do; the colour tests check the service's conversion against published matrices instead.
 */
import { crc32, deflateSync } from "node:zlib";

type V3 = [number, number, number];
type M3 = [V3, V3, V3];

const mul = (a: M3, b: M3): M3 => a.map((r) => [0, 1, 2].map((c) => r[0] * b[0][c]! + r[1] * b[1][c]! + r[2] * b[2][c]!)) as M3;
const apply = (m: M3, v: V3): V3 => m.map((r) => r[0] * v[0] + r[1] * v[1] + r[2] * v[2]) as V3;
function inv(m: M3): M3 {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}
const xyz = ([x, y]: [number, number]): V3 => [x / y, 1, (1 - x - y) / y];

export interface Primaries {
  r: [number, number];
  g: [number, number];
  b: [number, number];
  white: [number, number];
}

export const DISPLAY_P3: Primaries = { r: [0.68, 0.32], g: [0.265, 0.69], b: [0.15, 0.06], white: [0.3127, 0.329] };
export const ADOBE_RGB: Primaries = { r: [0.64, 0.33], g: [0.21, 0.71], b: [0.15, 0.06], white: [0.3127, 0.329] };
export const SRGB: Primaries = { r: [0.64, 0.33], g: [0.3, 0.6], b: [0.15, 0.06], white: [0.3127, 0.329] };

/** The colorant columns (XYZ of R, G, B at full), adapted to D50. */
function colorantsD50(p: Primaries): M3 {
  const P: M3 = [0, 1, 2].map((row) => [xyz(p.r)[row]!, xyz(p.g)[row]!, xyz(p.b)[row]!]) as M3;
  const W = xyz(p.white);
  const s = apply(inv(P), W);
  const M = P.map((r) => [r[0] * s[0], r[1] * s[1], r[2] * s[2]]) as M3;
  const BFD: M3 = [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]];
  const [cs, cd] = [apply(BFD, W), apply(BFD, [0.9642, 1, 0.8249])];
  const D: M3 = [[cd[0] / cs[0], 0, 0], [0, cd[1] / cs[1], 0], [0, 0, cd[2] / cs[2]]];
  return mul(mul(inv(BFD), mul(D, BFD)), M);
}

export type TestCurve = { gamma: number } | { srgb: true };

/** A v2 RGB matrix/TRC profile (or a CMYK / LUT-only one, to be refused). */
export function iccProfile(opts: { primaries?: Primaries; curve?: TestCurve; description?: string; space?: "RGB " | "CMYK"; lutOnly?: boolean }): Uint8Array {
  const p = opts.primaries ?? SRGB;
  const tags: Array<[string, Buffer]> = [];
  const desc = opts.description ?? "test profile";
  const d = Buffer.alloc(12 + desc.length + 1 + 67);
  d.write("desc", 0, "latin1");
  d.writeUInt32BE(desc.length + 1, 8);
  d.write(desc, 12, "latin1");
  tags.push(["desc", d]);
  if (opts.lutOnly) {
    const a2b = Buffer.alloc(32);
    a2b.write("mft2", 0, "latin1");
    tags.push(["A2B0", a2b]);
  } else {
    const M = colorantsD50(p);
    for (const [i, sig] of ["rXYZ", "gXYZ", "bXYZ"].entries()) {
      const t = Buffer.alloc(20);
      t.write("XYZ ", 0, "latin1");
      for (let k = 0; k < 3; k++) t.writeInt32BE(Math.round(M[k]![i]! * 65536), 8 + 4 * k);
      tags.push([sig, t]);
    }
    const curve = opts.curve ?? { srgb: true };
    let trc: Buffer;
    if ("gamma" in curve) {
      trc = Buffer.alloc(14);
      trc.write("curv", 0, "latin1");
      trc.writeUInt32BE(1, 8);
      trc.writeUInt16BE(Math.round(curve.gamma * 256), 12);
    } else {
      // para type 3: the sRGB curve.
      trc = Buffer.alloc(12 + 5 * 4);
      trc.write("para", 0, "latin1");
      trc.writeUInt16BE(3, 8);
      for (const [k, v] of [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045].entries()) trc.writeInt32BE(Math.round(v * 65536), 12 + 4 * k);
    }
    for (const sig of ["rTRC", "gTRC", "bTRC"]) tags.push([sig, trc]);
  }
  const header = Buffer.alloc(128);
  const tableSize = 4 + tags.length * 12;
  let offset = 128 + tableSize;
  const table = Buffer.alloc(tableSize);
  table.writeUInt32BE(tags.length, 0);
  const bodies: Buffer[] = [];
  for (const [i, [sig, body]] of tags.entries()) {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    table.write(sig, 4 + i * 12, "latin1");
    table.writeUInt32BE(offset, 8 + i * 12);
    table.writeUInt32BE(body.length, 12 + i * 12);
    bodies.push(padded);
    offset += padded.length;
  }
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8); // v2.1
  header.write("mntr", 12, "latin1");
  header.write(opts.space ?? "RGB ", 16, "latin1");
  header.write(opts.lutOnly ? "Lab " : "XYZ ", 20, "latin1");
  header.write("acsp", 36, "latin1");
  return new Uint8Array(Buffer.concat([header, table, ...bodies]));
}

/** `jpeg` with `profile` in APP2 ICC_PROFILE segments right after SOI, split into `parts`. */
export function jpegWithIcc(jpeg: Uint8Array, profile: Uint8Array, parts = 1): Uint8Array<ArrayBuffer> {
  const size = Math.ceil(profile.length / parts);
  const segments: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    const chunk = profile.subarray(i * size, (i + 1) * size);
    const head = Buffer.alloc(18);
    head.writeUInt16BE(0xffe2, 0);
    head.writeUInt16BE(2 + 14 + chunk.length, 2);
    head.write("ICC_PROFILE\0", 4, "latin1");
    head[16] = i + 1;
    head[17] = parts;
    segments.push(Buffer.concat([head, Buffer.from(chunk)]));
  }
  return new Uint8Array(Buffer.concat([Buffer.from(jpeg.subarray(0, 2)), ...segments, Buffer.from(jpeg.subarray(2))]));
}

/** `png` with an iCCP chunk (zlib `compressed`, default deflate of `profile`) right after IHDR. */
export function pngWithIcc(png: Uint8Array, profile: Uint8Array, compressed?: Uint8Array): Uint8Array<ArrayBuffer> {
  const data = Buffer.concat([Buffer.from("test\0\0", "latin1"), Buffer.from(compressed ?? deflateSync(profile))]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from("iCCP", "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  const ihdrEnd = 8 + 25;
  return new Uint8Array(Buffer.concat([Buffer.from(png.subarray(0, ihdrEnd)), len, body, crc, Buffer.from(png.subarray(ihdrEnd))]));
}
