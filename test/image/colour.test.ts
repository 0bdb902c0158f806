/**
 * Colour management: photos with embedded Display P3 or Adobe RGB profiles come out in sRGB with the
 * colours their profile describes, checked against the published conversion matrices (not against
 * the service's own Bradford/D50 path); sRGB and untagged images are untouched; profiles that cannot
 * be converted exactly are a 422 that says why, never silently wrong colours.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { createNodeEngine } from "../../scripts/lib/node-engine.ts";
import { decode, encode } from "../../src/image/codecs.ts";
import { HttpError } from "../../src/shared/errors.ts";
import type { PipelineOptions } from "../../src/engine/options.ts";
import { makePixels, type RgbaImage } from "../helpers/fixtures.ts";
import { ADOBE_RGB, DISPLAY_P3, iccProfile, jpegWithIcc, pngWithIcc } from "../helpers/icc.ts";

const engine = await createNodeEngine();
const limits = { maxSourcePixels: 4_000_000, maxOutputPixels: 4_000_000, maxFullModePixels: 100_000 };
const asIs: PipelineOptions = { fit: "scale-down", format: "png", strength: 0, mode: "fast", orient: true, limits };

/** Saturated ramps and patches: where gamuts differ most. */
const photo = makePixels(96, 64, (x, y) => {
  const band = Math.floor(y / 16);
  const v = Math.round((x / 95) * 255);
  return band === 0 ? [v, 20, 30, 255] : band === 1 ? [25, v, 40, 255] : band === 2 ? [30, 35, v, 255] : [v, 255 - v, (v * 7) % 256, 255];
});

// Published linear-RGB -> XYZ (D65) matrices and sRGB's inverse (Lindbloom; the P3 one from its primaries).
type M3 = number[][];
const P3_TO_XYZ: M3 = [[0.4865709, 0.2656677, 0.1982173], [0.2289746, 0.6917385, 0.0792869], [0.0, 0.0451134, 1.0439444]];
const ADOBE_TO_XYZ: M3 = [[0.5767309, 0.185554, 0.1881852], [0.2973769, 0.6273491, 0.0752741], [0.0270343, 0.0706872, 0.9911085]];
const XYZ_TO_SRGB: M3 = [[3.2404542, -1.5371385, -0.4985314], [-0.969266, 1.8760108, 0.041556], [0.0556434, -0.2040259, 1.0572252]];
const srgbDecode = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const srgbEncode = (v: number) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);

/** What a colour-managed viewer shows for `img` tagged with a profile of `toXyz` and `decodeCurve`, as sRGB bytes. */
function reference(img: RgbaImage, toXyz: M3, decodeCurve: (v: number) => number): Uint8Array {
  const out = img.data.slice();
  for (let i = 0; i < out.length; i += 4) {
    const lin = [0, 1, 2].map((c) => decodeCurve(img.data[i + c]! / 255));
    const X = toXyz.map((r) => r[0]! * lin[0]! + r[1]! * lin[1]! + r[2]! * lin[2]!);
    for (let c = 0; c < 3; c++) {
      const s = XYZ_TO_SRGB[c]![0]! * X[0]! + XYZ_TO_SRGB[c]![1]! * X[1]! + XYZ_TO_SRGB[c]![2]! * X[2]!;
      out[i + c] = Math.round(Math.min(1, Math.max(0, srgbEncode(Math.min(1, Math.max(0, s))))) * 255);
    }
  }
  return out;
}

function compare(got: Uint8Array, want: Uint8Array): { mean: number; max: number } {
  let sum = 0, max = 0, n = 0;
  for (let i = 0; i < got.length; i++) {
    if (i % 4 === 3) continue;
    const d = Math.abs(got[i]! - want[i]!);
    sum += d;
    max = Math.max(max, d);
    n++;
  }
  return { mean: sum / n, max };
}

async function served(bytes: Uint8Array): Promise<RgbaImage> {
  return decode((await engine.enhance(bytes, asIs)).bytes, "png");
}

test("a Display P3 PNG (iCCP) and JPEG (APP2, split in three) come out in sRGB as a colour-managed viewer shows them", async () => {
  const p3 = iccProfile({ primaries: DISPLAY_P3, description: "Display P3" });
  const want = reference(photo, P3_TO_XYZ, srgbDecode);
  const png = await served(pngWithIcc(await encode(photo, "png"), p3));
  const a = compare(png.data, want);
  assert.ok(a.max <= 2 && a.mean < 0.3, `PNG: mean ${a.mean.toFixed(3)}, max ${a.max}`);
  // Untagged, the same pixels are taken as sRGB: far from what P3 means on saturated colours.
  const untagged = compare((await served(await encode(photo, "png"))).data, want);
  assert.ok(untagged.mean > 5, `the test separates tagged from untagged (mean ${untagged.mean.toFixed(2)})`);

  const jpeg = await encode(photo, "jpeg", { quality: 95 });
  const decoded = await decode(jpeg, "jpeg");
  const j = compare((await served(jpegWithIcc(jpeg, p3, 3))).data, reference(decoded, P3_TO_XYZ, srgbDecode));
  assert.ok(j.max <= 2 && j.mean < 0.3, `JPEG: mean ${j.mean.toFixed(3)}, max ${j.max}`);
});

test("an Adobe RGB (1998) JPEG (gamma 563/256) comes out in sRGB as a colour-managed viewer shows it", async () => {
  const adobe = iccProfile({ primaries: ADOBE_RGB, curve: { gamma: 563 / 256 }, description: "Adobe RGB (1998)" });
  const jpeg = await encode(photo, "jpeg", { quality: 95 });
  const decoded = await decode(jpeg, "jpeg");
  const want = reference(decoded, ADOBE_TO_XYZ, (v) => v ** (563 / 256));
  const got = compare((await served(jpegWithIcc(jpeg, adobe))).data, want);
  assert.ok(got.max <= 2 && got.mean < 0.3, `mean ${got.mean.toFixed(3)}, max ${got.max}`);
});

test("sRGB-tagged and untagged images are untouched", async () => {
  const png = await encode(photo, "png");
  const srgb = iccProfile({ description: "sRGB IEC61966-2.1" });
  assert.deepEqual((await served(pngWithIcc(png, srgb))).data, (await served(png)).data);
  assert.deepEqual((await served(png)).data, photo.data);
});

test("profiles that cannot be converted exactly, and hostile ones, are a 422 that says why", async () => {
  const png = await encode(photo, "png");
  const jpeg = await encode(photo, "jpeg");
  const refusal = async (bytes: Uint8Array, why: RegExp) => {
    await assert.rejects(engine.enhance(bytes, asIs), (e: unknown) => e instanceof HttpError && e.status === 422 && why.test(e.message), String(why));
  };
  await refusal(pngWithIcc(png, iccProfile({ lutOnly: true, description: "a LUT profile" })), /LUT-based/);
  await refusal(jpegWithIcc(jpeg, iccProfile({ space: "CMYK" })), /CMYK/);
  const p3 = iccProfile({ primaries: DISPLAY_P3 });
  await refusal(jpegWithIcc(jpeg, p3.subarray(0, 100)), /truncated/);
  const lying = p3.slice();
  new DataView(lying.buffer).setUint32(128, 0x7fffffff); // tag count in the millions
  await refusal(pngWithIcc(png, lying), /tag table is corrupt/);
  const pastEnd = p3.slice();
  new DataView(pastEnd.buffer).setUint32(132 + 4, 0xfffffff0); // first tag's offset past the end
  await refusal(pngWithIcc(png, pastEnd), /runs past its end/);
  // A zlib bomb in iCCP: 64 MiB of zeros in a few KB.
  await refusal(pngWithIcc(png, p3, deflateSync(Buffer.alloc(64 * 1024 * 1024))), /inflates to over/);
  await refusal(pngWithIcc(png, p3, new Uint8Array([0x78, 0x9c, 1, 2, 3])), /corrupt/);
  // Only part of a split profile.
  const split = jpegWithIcc(jpeg, p3, 3);
  const firstPart = split.indexOf(0xe2, 2) - 1;
  const partLength = (split[firstPart + 2]! << 8) | split[firstPart + 3]!;
  const missingOne = new Uint8Array([...split.subarray(0, firstPart), ...split.subarray(firstPart + 2 + partLength)]);
  await refusal(missingOne, /some missing/);
  // And the engine still works.
  assert.equal((await engine.enhance(png, asIs)).width, 96);
});
