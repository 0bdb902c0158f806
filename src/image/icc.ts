/**
 * ICC colour profiles: the matrix/TRC kind that phones and cameras write (Display P3, Adobe RGB,
 * ProPhoto, and grey), parsed and turned into a conversion to sRGB, relative colorimetric with
 * clipping (what browsers do). A profile this cannot convert exactly (LUT-based, CMYK, Lab, device
 * links) is refused by the caller, never approximated: wrong colours silently served are worse than
 * a clear error.
 */

/** A 3x3 matrix, row-major. */
type Mat3 = [number, number, number, number, number, number, number, number, number];

/** A tone curve: encoded value in [0, 1] to linear light in [0, 1]. */
type Curve = (v: number) => number;

/** The sRGB curve: encoded value to linear light (also how BT.709-family sources are shown)... */
export function srgbToLinear(x: number): number {
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}

/** ...and linear light back to the encoded value. */
export function linearToSrgb(x: number): number {
  return x <= 0.0031308 ? 12.92 * x : 1.055 * Math.pow(x, 1 / 2.4) - 0.055;
}

export type Profile =
  | { kind: "rgb"; toXyz: Mat3; curves: [Curve, Curve, Curve]; description: string }
  | { kind: "gray"; curve: Curve; description: string }
  | { kind: "unsupported"; why: string };

const s15 = (b: DataView, o: number): number => b.getInt32(o) / 65536;

/** Parses an ICC profile. Returns kind "unsupported" with the reason for profiles it cannot convert exactly. */
export function parseIcc(bytes: Uint8Array): Profile {
  if (bytes.length < 132) return { kind: "unsupported", why: "the colour profile is truncated" };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = v.getUint32(0);
  if (size > bytes.length || size < 132) return { kind: "unsupported", why: "the colour profile is truncated" };
  const space = String.fromCharCode(...bytes.subarray(16, 20));
  const pcs = String.fromCharCode(...bytes.subarray(20, 24));
  const count = v.getUint32(128);
  if (count > 1000 || 132 + count * 12 > size) return { kind: "unsupported", why: "the colour profile's tag table is corrupt" };
  const tags = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const at = 132 + i * 12;
    const sig = String.fromCharCode(...bytes.subarray(at, at + 4));
    const offset = v.getUint32(at + 4);
    const length = v.getUint32(at + 8);
    if (offset + length > size || length < 8) return { kind: "unsupported", why: `the colour profile's ${sig} tag runs past its end` };
    tags.set(sig, bytes.subarray(offset, offset + length));
  }
  const description = describe(tags.get("desc"));
  if (space === "CMYK") return { kind: "unsupported", why: "CMYK images (a print colour space) are not supported: convert the image to RGB" };
  if (pcs !== "XYZ ") return { kind: "unsupported", why: `the colour profile "${description}" connects through ${pcs.trim() || "an unknown space"}, not XYZ (a LUT-based profile)` };
  try {
    if (space === "GRAY") {
      const t = tags.get("kTRC");
      if (!t) return { kind: "unsupported", why: `the grey colour profile "${description}" has no tone curve` };
      return { kind: "gray", curve: parseCurve(t), description };
    }
    if (space !== "RGB ") return { kind: "unsupported", why: `images in the ${space.trim()} colour space are not supported` };
    const needed = ["rXYZ", "gXYZ", "bXYZ", "rTRC", "gTRC", "bTRC"];
    if (!needed.every((t) => tags.has(t))) {
      return { kind: "unsupported", why: `the colour profile "${description}" is LUT-based (no matrix and curves): it cannot be converted exactly here` };
    }
    const xyz = (sig: string): [number, number, number] => {
      const t = tags.get(sig)!;
      if (String.fromCharCode(...t.subarray(0, 4)) !== "XYZ " || t.length < 20) throw new Error(`${sig} is not an XYZ tag`);
      const d = new DataView(t.buffer, t.byteOffset, t.byteLength);
      return [s15(d, 8), s15(d, 12), s15(d, 16)];
    };
    const [r, g, b] = [xyz("rXYZ"), xyz("gXYZ"), xyz("bXYZ")];
    const toXyz: Mat3 = [r[0], g[0], b[0], r[1], g[1], b[1], r[2], g[2], b[2]];
    return { kind: "rgb", toXyz, curves: [parseCurve(tags.get("rTRC")!), parseCurve(tags.get("gTRC")!), parseCurve(tags.get("bTRC")!)], description };
  } catch (e) {
    return { kind: "unsupported", why: `the colour profile "${description}" is corrupt (${(e as Error).message})` };
  }
}

function describe(tag: Uint8Array | undefined): string {
  if (!tag || tag.length < 12) return "unnamed";
  const type = String.fromCharCode(...tag.subarray(0, 4));
  const d = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  if (type === "desc") {
    const n = Math.min(d.getUint32(8), tag.length - 12, 64);
    return String.fromCharCode(...tag.subarray(12, 12 + n)).replace(/[^\x20-\x7e]/g, "").trim() || "unnamed";
  }
  if (type === "mluc" && tag.length >= 28) {
    const length = d.getUint32(20);
    const offset = d.getUint32(24);
    let s = "";
    for (let i = offset; i + 1 < Math.min(tag.length, offset + length) && s.length < 64; i += 2) s += String.fromCharCode(d.getUint16(i));
    return s.replace(/[^\x20-\x7e]/g, "").trim() || "unnamed";
  }
  return "unnamed";
}

/** curv (identity, gamma, table) or para (the five parametric functions) as a function. */
function parseCurve(t: Uint8Array): Curve {
  const type = String.fromCharCode(...t.subarray(0, 4));
  const d = new DataView(t.buffer, t.byteOffset, t.byteLength);
  if (type === "curv") {
    const n = d.getUint32(8);
    if (12 + 2 * n > t.length) throw new Error("a tone curve is truncated");
    if (n === 0) return (x) => x;
    if (n === 1) {
      const gamma = d.getUint16(12) / 256;
      return (x) => Math.pow(x, gamma);
    }
    if (n > 65536) throw new Error("a tone curve has too many points");
    const table = new Float64Array(n);
    for (let i = 0; i < n; i++) table[i] = d.getUint16(12 + 2 * i) / 65535;
    return (x) => {
      const p = Math.min(Math.max(x, 0), 1) * (n - 1);
      const i = Math.min(n - 2, Math.floor(p));
      return table[i]! + (table[i + 1]! - table[i]!) * (p - i);
    };
  }
  if (type === "para") {
    const fn = d.getUint16(8);
    const counts = [1, 3, 4, 5, 7];
    if (fn > 4 || 12 + 4 * counts[fn]! > t.length) throw new Error("a parametric tone curve is malformed");
    const p = Array.from({ length: counts[fn]! }, (_, i) => s15(d, 12 + 4 * i));
    const [g, a = 1, b = 0, c = 0, dd = 0, e = 0, f = 0] = p as number[];
    switch (fn) {
      case 0:
        return (x) => Math.pow(x, g!);
      case 1:
        return (x) => (x >= -b / a ? Math.pow(a * x + b, g!) : 0);
      case 2:
        return (x) => (x >= -b / a ? Math.pow(a * x + b, g!) + c : c);
      case 3:
        return (x) => (x >= dd ? Math.pow(a * x + b, g!) : c * x);
      default:
        return (x) => (x >= dd ? Math.pow(a * x + b, g!) + e : c * x + f);
    }
  }
  throw new Error(`a tone curve has type "${type}"`);
}

/** sRGB's colorants adapted to D50 (the ICC profile connection space), and its inverse. */
const SRGB_TO_XYZ_D50: Mat3 = [0.4360747, 0.3850649, 0.1430804, 0.2225045, 0.7168786, 0.0606169, 0.0139322, 0.0971045, 0.7141733];
const XYZ_D50_TO_SRGB = invert(SRGB_TO_XYZ_D50);

function multiply(a: Mat3, b: Mat3): Mat3 {
  const out = new Array<number>(9) as Mat3;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
  return out;
}

function invert(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) throw new Error("the colour profile's colorants are degenerate");
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/** sRGB's encoding of linear light, as a 4096-entry table over [0, 1]. */
const SRGB_ENCODE = (() => {
  const t = new Uint8Array(4097);
  for (let i = 0; i <= 4096; i++) {
    const x = i / 4096;
    const v = linearToSrgb(x);
    t[i] = Math.round(Math.min(1, Math.max(0, v)) * 255);
  }
  return t;
})();

/** Whether the profile is sRGB itself (within a rounding of its numbers): then nothing needs converting. */
export function isSrgb(p: Profile): boolean {
  if (p.kind !== "rgb") return false;
  if (p.toXyz.some((v, i) => Math.abs(v - SRGB_TO_XYZ_D50[i]!) > 0.002)) return false;
  for (let i = 0; i <= 255; i += 5) {
    const x = i / 255;
    const srgb = srgbToLinear(x);
    if (p.curves.some((c) => Math.abs(c(x) - srgb) > 0.002)) return false;
  }
  return true;
}

/**
 * Converts 8-bit RGBA pixels (in place) from `p` to sRGB: each channel through its curve to linear
 * light, through the colorants to XYZ (D50) and on to sRGB's linear light, clipped, then sRGB-encoded.
 */
export function convertToSrgb(data: Uint8Array, p: Profile & { kind: "rgb" | "gray" }): void {
  if (p.kind === "gray") {
    const lut = new Uint8Array(256);
    for (let i = 0; i < 256; i++) lut[i] = SRGB_ENCODE[Math.round(Math.min(1, Math.max(0, p.curve(i / 255))) * 4096)]!;
    for (let i = 0; i < data.length; i += 4) {
      data[i] = lut[data[i]!]!;
      data[i + 1] = lut[data[i + 1]!]!;
      data[i + 2] = lut[data[i + 2]!]!;
    }
    return;
  }
  const m = multiply(XYZ_D50_TO_SRGB, p.toXyz);
  const lin = p.curves.map((c) => Float64Array.from({ length: 256 }, (_, i) => c(i / 255)));
  const [lr, lg, lb] = lin as [Float64Array, Float64Array, Float64Array];
  const enc = (x: number): number => SRGB_ENCODE[x <= 0 ? 0 : x >= 1 ? 4096 : Math.round(x * 4096)]!;
  for (let i = 0; i < data.length; i += 4) {
    const r = lr[data[i]!]!, g = lg[data[i + 1]!]!, b = lb[data[i + 2]!]!;
    data[i] = enc(m[0] * r + m[1] * g + m[2] * b);
    data[i + 1] = enc(m[3] * r + m[4] * g + m[5] * b);
    data[i + 2] = enc(m[6] * r + m[7] * g + m[8] * b);
  }
}

/**
 * A matrix/TRC profile from chromaticities and one transfer function (PNG cHRM/gAMA, AVIF nclx): the
 * colorants adapted to D50 with Bradford, as an ICC profile stores them.
 */
export function profileFromPrimaries(
  primaries: { r: [number, number]; g: [number, number]; b: [number, number]; white: [number, number] },
  curve: (v: number) => number,
  description: string,
): Profile {
  const xyz = ([x, y]: [number, number]): [number, number, number] => [x / y, 1, (1 - x - y) / y];
  const [R, G, B, W] = [xyz(primaries.r), xyz(primaries.g), xyz(primaries.b), xyz(primaries.white)];
  const P: Mat3 = [R[0], G[0], B[0], R[1], G[1], B[1], R[2], G[2], B[2]];
  const S = invert(P);
  const s = [S[0] * W[0] + S[1] * W[1] + S[2] * W[2], S[3] * W[0] + S[4] * W[1] + S[5] * W[2], S[6] * W[0] + S[7] * W[1] + S[8] * W[2]];
  const toXyz: Mat3 = [P[0] * s[0]!, P[1] * s[1]!, P[2] * s[2]!, P[3] * s[0]!, P[4] * s[1]!, P[5] * s[2]!, P[6] * s[0]!, P[7] * s[1]!, P[8] * s[2]!];
  return { kind: "rgb", toXyz: multiply(bradford(W, D50), toXyz), curves: [curve, curve, curve], description };
}

const D50: [number, number, number] = [0.9642, 1, 0.8249];
const BRADFORD: Mat3 = [0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296];

/** The Bradford adaptation from white point `from` to `to` (XYZ, Y = 1). */
function bradford(from: [number, number, number], to: [number, number, number]): Mat3 {
  const cone = (w: [number, number, number]) => [0, 1, 2].map((r) => BRADFORD[r * 3]! * w[0] + BRADFORD[r * 3 + 1]! * w[1] + BRADFORD[r * 3 + 2]! * w[2]);
  const [a, b] = [cone(from), cone(to)];
  const D: Mat3 = [b[0]! / a[0]!, 0, 0, 0, b[1]! / a[1]!, 0, 0, 0, b[2]! / a[2]!];
  return multiply(invert(BRADFORD), multiply(D, BRADFORD));
}
