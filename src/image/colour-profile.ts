/**
 * The colour profile an image carries, from wherever its format keeps it: JPEG APP2 ICC_PROFILE
 * segments (possibly split, numbered), PNG iCCP (zlib, bounded) or sRGB / cHRM + gAMA, WebP ICCP,
 * AVIF colr (ICC, or nclx primaries and transfer, read by sniff.ts). Null when the image is sRGB or
 * says nothing (then it is sRGB, as on the web).
 */
import { HttpError } from "../shared/errors.ts";
import { readUpTo } from "../shared/bytes.ts";
import { isSrgb, parseIcc, profileFromPrimaries, srgbToLinear, type Profile } from "./icc.ts";
import type { ImageHeader } from "./sniff.ts";
import { ascii, u32 } from "./header.ts";

/** Larger ICC profiles are refused: real ones are a few KB (LUT-based ones up to a few hundred). */
const MAX_PROFILE_BYTES = 4 * 1024 * 1024;


/** The profile to convert from, or null for sRGB. Throws 422 for a profile that cannot be converted exactly. */
export async function embeddedProfile(bytes: Uint8Array, header: ImageHeader): Promise<(Profile & { kind: "rgb" | "gray" }) | null> {
  let profile: Profile | null;
  if (header.format === "jpeg") profile = jpegIcc(bytes);
  else if (header.format === "png") profile = await pngProfile(bytes);
  else if (header.format === "webp") profile = webpIcc(bytes);
  else profile = heifProfile(header);
  if (profile === null) return null;
  if (profile.kind === "unsupported") throw new HttpError(422, "undecodable", `the image cannot be shown in the right colours: ${profile.why}`);
  return isSrgb(profile) ? null : profile;
}

function icc(bytes: Uint8Array): Profile {
  if (bytes.length > MAX_PROFILE_BYTES) return { kind: "unsupported", why: `its colour profile is over ${MAX_PROFILE_BYTES} bytes` };
  return parseIcc(bytes);
}

function jpegIcc(b: Uint8Array): Profile | null {
  const parts = new Map<number, Uint8Array>();
  let total = 0;
  let pos = 2;
  while (pos + 4 <= b.length && b[pos] === 0xff) {
    const marker = b[pos + 1]!;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break; // image data: profiles come before it
    const end = pos + 2 + ((b[pos + 2]! << 8) | b[pos + 3]!);
    if (end > b.length) break;
    if (marker === 0xe2 && end - pos >= 18 && ascii(b, pos + 4, 12) === "ICC_PROFILE\0") {
      const seq = b[pos + 16]!;
      parts.set(seq, b.subarray(pos + 18, end));
      total += end - pos - 18;
      if (total > MAX_PROFILE_BYTES) return { kind: "unsupported", why: "its colour profile is too large" };
    }
    pos = end;
  }
  if (parts.size === 0) return null;
  const order = [...parts.keys()].sort((x, y) => x - y);
  if (order[0] !== 1 || order.some((n, i) => n !== i + 1)) return { kind: "unsupported", why: "its colour profile is split into segments with some missing" };
  const out = new Uint8Array(total);
  let at = 0;
  for (const n of order) {
    out.set(parts.get(n)!, at);
    at += parts.get(n)!.length;
  }
  return icc(out);
}

async function pngProfile(b: Uint8Array): Promise<Profile | null> {
  let pos = 8;
  let gama: number | undefined;
  let chrm: number[] | undefined;
  while (pos + 8 <= b.length) {
    const length = u32(b, pos);
    const type = ascii(b, pos + 4, 4);
    const data = b.subarray(pos + 8, Math.min(b.length, pos + 8 + length));
    if (type === "IDAT" || type === "IEND") break; // colour chunks come before the image data
    if (type === "sRGB") return null;
    if (type === "iCCP") {
      const nul = data.indexOf(0);
      if (nul < 0 || nul + 2 > data.length || data[nul + 1] !== 0) return { kind: "unsupported", why: "its iCCP chunk is malformed" };
      return icc(await inflate(data.subarray(nul + 2)));
    }
    if (type === "gAMA" && data.length >= 4) gama = u32(data, 0) / 100000;
    if (type === "cHRM" && data.length >= 32) chrm = Array.from({ length: 8 }, (_, i) => u32(data, 4 * i) / 100000);
    pos += 12 + length;
  }
  // gAMA 1/2.2 without cHRM is how many encoders say "sRGB": nothing to convert.
  if (gama === undefined || gama <= 0) return null;
  if (!chrm && Math.abs(gama - 1 / 2.2) < 0.001) return null;
  const exponent = 1 / gama;
  const curve = (x: number) => Math.pow(x, exponent);
  const c = chrm ?? [0.3127, 0.329, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06];
  return profileFromPrimaries({ white: [c[0]!, c[1]!], r: [c[2]!, c[3]!], g: [c[4]!, c[5]!], b: [c[6]!, c[7]!] }, curve, `PNG gAMA ${gama.toFixed(5)}${chrm ? " cHRM" : ""}`);
}

/** zlib-inflates `data`, refusing (as unsupported) output over MAX_PROFILE_BYTES: a bomb in iCCP stops here. */
async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
  let bytes: Uint8Array<ArrayBuffer> | null;
  try {
    bytes = await readUpTo(stream, MAX_PROFILE_BYTES);
  } catch {
    throw new HttpError(422, "undecodable", "the image cannot be shown in the right colours: its compressed colour profile is corrupt");
  }
  if (bytes === null) {
    throw new HttpError(422, "undecodable", `the image cannot be shown in the right colours: its compressed colour profile inflates to over ${MAX_PROFILE_BYTES} bytes`);
  }
  return bytes;
}

function webpIcc(b: Uint8Array): Profile | null {
  if (ascii(b, 12, 4) !== "VP8X") return null; // only the extended format carries a profile
  let pos = 12;
  while (pos + 8 <= b.length) {
    const type = ascii(b, pos, 4);
    const size = b[pos + 4]! | (b[pos + 5]! << 8) | (b[pos + 6]! << 16) | (b[pos + 7]! * 2 ** 24);
    if (type === "ICCP") {
      if (pos + 8 + size > b.length) return { kind: "unsupported", why: "its ICCP chunk is truncated" };
      return icc(b.subarray(pos + 8, pos + 8 + size));
    }
    if (type === "VP8 " || type === "VP8L" || type === "ANIM") break;
    pos += 8 + size + (size & 1);
  }
  return null;
}

/** nclx colour primaries (ITU-T H.273) this converts exactly. */
const PRIMARIES: Record<number, { r: [number, number]; g: [number, number]; b: [number, number]; white: [number, number]; name: string }> = {
  5: { r: [0.64, 0.33], g: [0.29, 0.6], b: [0.15, 0.06], white: [0.3127, 0.329], name: "BT.601 (625 lines)" },
  6: { r: [0.63, 0.34], g: [0.31, 0.595], b: [0.155, 0.07], white: [0.3127, 0.329], name: "BT.601 (525 lines)" },
  9: { r: [0.708, 0.292], g: [0.17, 0.797], b: [0.131, 0.046], white: [0.3127, 0.329], name: "BT.2020" },
  12: { r: [0.68, 0.32], g: [0.265, 0.69], b: [0.15, 0.06], white: [0.3127, 0.329], name: "Display P3" },
};

function heifProfile(header: ImageHeader): Profile | null {
  const c = header.heifColour;
  if (!c) return null;
  if ("icc" in c) return icc(c.icc);
  if (c.transfer === 16 || c.transfer === 18) return { kind: "unsupported", why: "HDR AVIF (PQ or HLG transfer) is not supported" };
  // BT.709 primaries, or unspecified: sRGB's.
  if (c.primaries === 1 || c.primaries === 2) return null;
  const p = PRIMARIES[c.primaries];
  if (!p) return { kind: "unsupported", why: `AVIF colour primaries ${c.primaries} are not supported` };
  const curve = c.transfer === 8 ? (x: number) => x : c.transfer === 4 ? (x: number) => Math.pow(x, 2.2) : srgbToLinear;
  return profileFromPrimaries(p, curve, `AVIF ${p.name}`);
}
