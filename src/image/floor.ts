/**
 * The noise floor's colour. In the deepest shadows of a dark photo (a few levels above black) the
 * signal is a few photons: what colour those pixels have is sensor noise, the camera's white balance
 * at no signal and the codec's rounding, and the curves would lift it into a cast (the green of a
 * phone's darkest shots). Such pixels are desaturated towards their own luma before the curves: a
 * pixel at luma level Y keeps the share smoothstep(Y / FLOOR_REACH) of its colour (none at black,
 * half at FLOOR_REACH / 2), and from FLOOR_REACH on nothing changes. Luma is kept (Rec. 709, the
 * same weights, so the gain and the exposure read the same image). Served inside the curves pass
 * (applyCurvesWasm's `floor` option in pixels.ts).
 *
 * Darkening those pixels too (a toe under the lift) was tried and lost: LOL -0.2 dB, and the phone
 * photos' shadows went black (docs/experiments.md).
 */
import { lumaFixed } from "./luma.ts";
import type { RgbaImage } from "../shared/image.ts";

/** Luma (8-bit levels) from which a pixel keeps all its colour. */
export const FLOOR_REACH = 6;

let table: Float32Array | undefined;

/** The share of its colour a pixel keeps, per luma level 0..FLOOR_REACH (colour-kernels.ts hands it to the WASM twin). */
export function floorTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(FLOOR_REACH + 1);
  for (let y = 0; y <= FLOOR_REACH; y++) {
    const t = y / FLOOR_REACH;
    table[y] = t * t * (3 - 2 * t);
  }
  return table;
}

/**
 * Desaturate the pixels of `img` near black, in place (see above). Returns how many changed.
 * Twin on purpose: desaturateFloorWasm (colour-kernels.ts) is the served path; this is the tested reference.
 */
export function desaturateFloor(img: RgbaImage): number {
  const d = img.data;
  const s = floorTable();
  // Written through a clamped view: stores round and clamp to 0..255 themselves.
  const out = new Uint8ClampedArray(d.buffer, d.byteOffset, d.length);
  let changed = 0;
  for (let p = 0; p < d.length; p += 4) {
    const r = d[p]!, g = d[p + 1]!, b = d[p + 2]!;
    if (r === g && g === b) continue;
    const y = lumaFixed(r, g, b);
    if (y >= FLOOR_REACH) continue;
    const k = s[y]!;
    const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    out[p] = l + (r - l) * k;
    out[p + 1] = l + (g - l) * k;
    out[p + 2] = l + (b - l) * k;
    changed++;
  }
  return changed;
}
