/** Apply an EXIF orientation (1-8) to an RGBA image so it comes out upright. */
import type { RgbaImage } from "../shared/image.ts";

/** Orientations 5-8 swap width and height. */
export function orientedSize(width: number, height: number, orientation: number): { width: number; height: number } {
  return orientation >= 5 && orientation <= 8 ? { width: height, height: width } : { width, height };
}

/**
 * Returns a new image for orientations 2-8, the input itself for 1 (or anything out of range).
 * Meaning of the tag (EXIF 2.3): 2 mirror horizontally, 3 rotate 180, 4 mirror vertically,
 * 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
 */
export function applyOrientation(img: RgbaImage, orientation: number): RgbaImage {
  if (!Number.isInteger(orientation) || orientation < 2 || orientation > 8) return img;
  const W = img.width;
  const H = img.height;
  const { width: ow, height: oh } = orientedSize(W, H, orientation);
  // Move whole pixels as 32-bit words (copy first if the view is not 4-byte aligned).
  const srcBytes = img.data.byteOffset % 4 === 0 ? img.data : img.data.slice();
  const src = new Uint32Array(srcBytes.buffer, srcBytes.byteOffset, W * H);
  const dst = new Uint32Array(ow * oh);
  const { ax, bx, cx, ay, by, cy } = sourceMap(orientation, W, H);
  let o = 0;
  for (let y = 0; y < oh; y++) {
    let sx = bx * y + cx;
    let sy = by * y + cy;
    for (let x = 0; x < ow; x++) {
      dst[o++] = src[sy * W + sx]!;
      sx += ax;
      sy += ay;
    }
  }
  return { width: ow, height: oh, data: new Uint8Array(dst.buffer) };
}

/**
 * For orientation 1-8 of a W x H source: the source pixel of upright pixel (x, y) is
 * (ax*x + bx*y + cx, ay*x + by*y + cy).
 */
function sourceMap(orientation: number, W: number, H: number) {
  let ax = 1, bx = 0, cx = 0, ay = 0, by = 1, cy = 0;
  switch (orientation) {
    case 2: ax = -1; cx = W - 1; break;
    case 3: ax = -1; cx = W - 1; by = -1; cy = H - 1; break;
    case 4: by = -1; cy = H - 1; break;
    case 5: ax = 0; bx = 1; ay = 1; by = 0; break;
    case 6: ax = 0; bx = 1; ay = -1; by = 0; cy = H - 1; break;
    case 7: ax = 0; bx = -1; cx = W - 1; ay = -1; by = 0; cy = H - 1; break;
    case 8: ax = 0; bx = -1; cx = W - 1; ay = 1; by = 0; break;
  }
  return { ax, bx, cx, ay, by, cy };
}

/**
 * The rectangle of a W x H source (stored orientation) that an upright rectangle covers, so a crop
 * and resize can run before the orientation is applied (on fewer pixels, e.g. a thumbnail of a
 * 12 MP photo) with the same result.
 */
export function sourceRect(
  rect: { x: number; y: number; width: number; height: number },
  orientation: number,
  W: number,
  H: number,
): { x: number; y: number; width: number; height: number } {
  if (!Number.isInteger(orientation) || orientation < 2 || orientation > 8) return rect;
  const { ax, bx, cx, ay, by, cy } = sourceMap(orientation, W, H);
  const x0 = rect.x, y0 = rect.y, x1 = rect.x + rect.width - 1, y1 = rect.y + rect.height - 1;
  const sx = [ax * x0 + bx * y0 + cx, ax * x1 + bx * y1 + cx];
  const sy = [ay * x0 + by * y0 + cy, ay * x1 + by * y1 + cy];
  const x = Math.min(sx[0]!, sx[1]!), y = Math.min(sy[0]!, sy[1]!);
  return { x, y, width: Math.max(sx[0]!, sx[1]!) - x + 1, height: Math.max(sy[0]!, sy[1]!) - y + 1 };
}

/**
 * The one orientation that does what `ops` (orientations 1-8, applied first to last) do together:
 * AVIF's irot and imir properties are such a sequence. Found by following the corners of a 3 x 2
 * image back through each operation (sourceMap) and matching them against each single orientation.
 */
export function composeOrientations(ops: readonly number[]): number {
  const sizes = [{ width: 3, height: 2 }];
  for (const o of ops) sizes.push(orientedSize(sizes[sizes.length - 1]!.width, sizes[sizes.length - 1]!.height, o));
  const final = sizes[sizes.length - 1]!;
  const back = (x: number, y: number): [number, number] => {
    for (let k = ops.length - 1; k >= 0; k--) {
      const { ax, bx, cx, ay, by, cy } = sourceMap(ops[k]!, sizes[k]!.width, sizes[k]!.height);
      [x, y] = [ax * x + bx * y + cx, ay * x + by * y + cy];
    }
    return [x, y];
  };
  const corners: Array<[number, number]> = [[0, 0], [final.width - 1, 0], [0, final.height - 1]];
  for (let o = 1; o <= 8; o++) {
    const size = orientedSize(3, 2, o);
    if (size.width !== final.width) continue;
    const m = sourceMap(o, 3, 2);
    if (corners.every(([x, y]) => {
      const [bx2, by2] = back(x, y);
      return m.ax * x + m.bx * y + m.cx === bx2 && m.ay * x + m.by * y + m.cy === by2;
    })) return o;
  }
  return 1;
}
