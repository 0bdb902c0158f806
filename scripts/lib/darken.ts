/**
 * Synthetic low light for pictures: x -> gain * x^gamma plus mild sensor-like noise, so a well-exposed
 * photo whose licence allows it can stand in for a dark one (the README's figure and screenshot).
 */
import { makeImage, type RgbaImage } from "../../src/shared/image.ts";
import { gaussian, mulberry32 } from "../../src/shared/rng.ts";
import type { Fail } from "./cli.ts";

export function darkenImage(img: RgbaImage, gain: number, gamma: number): RgbaImage {
  const out = makeImage(img.width, img.height);
  const rand = mulberry32(1);
  for (let i = 0; i < img.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const x = gain * Math.pow(img.data[i + c]! / 255, gamma) + 0.004 * gaussian(rand);
      out.data[i + c] = Math.max(0, Math.min(255, Math.round(255 * x)));
    }
    out.data[i + 3] = 255;
  }
  return out;
}

/** The --darken G,GAMMA flag: G in (0,1], GAMMA in [1,4]; undefined when absent. */
export function darkenFlag(value: string | undefined, fail: Fail): [number, number] | undefined {
  if (!value) return undefined;
  const [g, gamma] = value.split(",").map(Number);
  if (!(g! > 0 && g! <= 1 && gamma! >= 1 && gamma! <= 4)) fail(`--darken must be G,GAMMA with G in (0,1], GAMMA in [1,4], got "${value}"`);
  return [g!, gamma!];
}
