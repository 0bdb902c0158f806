/**
 * A contact sheet: a grid of images, each scaled to fit its cell (never enlarged), on a dark
 * background. Used by eval (input | outputs | reference per row) and the training report.
 */
import type { RgbaImage } from "../../src/shared/image.ts";
import { fitSize, resizeImage } from "../../src/image/resize.ts";

export interface SheetOptions {
  /** Cell size in pixels; images are scaled to fit inside, keeping their aspect ratio. */
  cellWidth?: number;
  cellHeight?: number;
  /** Gap between cells and around the grid. */
  gap?: number;
  /** Background grey level 0-255. */
  background?: number;
}

/** Lay out rows of images (rows may have different lengths; missing cells stay empty). Needs initNodeCodecs(). */
export async function contactSheet(rows: (RgbaImage | undefined)[][], opts: SheetOptions = {}): Promise<RgbaImage> {
  const cw = opts.cellWidth ?? 240;
  const ch = opts.cellHeight ?? 160;
  const gap = opts.gap ?? 4;
  const bg = opts.background ?? 32;
  const cols = Math.max(1, ...rows.map((r) => r.length));
  const width = gap + cols * (cw + gap);
  const height = gap + Math.max(1, rows.length) * (ch + gap);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set([bg, bg, bg, 255], i);
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < rows[r]!.length; c++) {
      const img = rows[r]![c];
      if (!img) continue;
      const size = fitSize(img.width, img.height, cw, ch, "scale-down");
      const thumb = await resizeImage(img, size.width, size.height);
      // Centre in the cell.
      const ox = gap + c * (cw + gap) + Math.floor((cw - thumb.width) / 2);
      const oy = gap + r * (ch + gap) + Math.floor((ch - thumb.height) / 2);
      for (let y = 0; y < thumb.height; y++) {
        const src = thumb.data.subarray(y * thumb.width * 4, (y + 1) * thumb.width * 4);
        data.set(src, ((oy + y) * width + ox) * 4);
      }
    }
  }
  return { width, height, data };
}
