/**
 * Byte-level builders for the hostile-image corpus: PNGs of every colour type written by hand
 * (including palette and Adam7 interlacing, which jSquash cannot encode), a minimal baseline JPEG
 * writer for what mozjpeg will not produce (CMYK, restart markers), and structure walkers that list
 * the boundaries where a file can be cut or corrupted.
 */
import { crc32, deflateSync } from "node:zlib";

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function pngChunk(type: string, data: Uint8Array | number[]): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), Buffer.from(data)]);
  const out = Buffer.alloc(12 + body.length - 4);
  out.writeUInt32BE(body.length - 4, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body) >>> 0, 8 + body.length - 4);
  return out;
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export interface PngSpec {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  /** Sample values of pixel (x, y), one per channel (palette: the index), in 0..2^bitDepth-1. */
  sample: (x: number, y: number) => number[];
  interlace?: boolean;
  /** Chunks placed between IHDR and IDAT (PLTE, tRNS). */
  extra?: Buffer[];
}

/** A PNG written by hand: unfiltered scanlines (filter byte 0), optionally Adam7-interlaced. */
export function buildPng(spec: PngSpec): Uint8Array {
  const { width, height, bitDepth, colorType } = spec;
  const bytesPerSample = bitDepth / 8;
  const scanline = (xs: number[], y: number): Buffer => {
    const row: number[] = [0];
    for (const x of xs) {
      for (const v of spec.sample(x, y)) {
        if (bytesPerSample === 2) row.push(v >> 8, v & 255);
        else row.push(v);
      }
    }
    return Buffer.from(row);
  };
  const rows: Buffer[] = [];
  const all = (n: number, start = 0, step = 1): number[] => {
    const r: number[] = [];
    for (let i = start; i < n; i += step) r.push(i);
    return r;
  };
  if (spec.interlace) {
    for (const [x0, y0, dx, dy] of ADAM7) {
      const xs = all(width, x0, dx);
      if (xs.length === 0) continue;
      for (const y of all(height, y0, dy)) rows.push(scanline(xs, y));
    }
  } else {
    for (let y = 0; y < height; y++) rows.push(scanline(all(width), y));
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  ihdr[12] = spec.interlace ? 1 : 0;
  return new Uint8Array(
    Buffer.concat([
      Buffer.from(PNG_SIGNATURE),
      pngChunk("IHDR", ihdr),
      ...(spec.extra ?? []),
      pngChunk("IDAT", deflateSync(Buffer.concat(rows))),
      pngChunk("IEND", []),
    ]),
  );
}

/** Offsets where each PNG chunk starts, and inside it after its length, type and data. */
export function pngBoundaries(png: Uint8Array): { chunks: Array<{ start: number; type: string; length: number }>; offsets: number[] } {
  const chunks: Array<{ start: number; type: string; length: number }> = [];
  const offsets = new Set<number>([0, 1, 7, 8]);
  let pos = 8;
  while (pos + 8 <= png.length) {
    const length = Buffer.from(png.buffer, png.byteOffset + pos, 4).readUInt32BE(0);
    const type = Buffer.from(png.subarray(pos + 4, pos + 8)).toString("latin1");
    chunks.push({ start: pos, type, length });
    for (const o of [pos, pos + 4, pos + 8, pos + 8 + (length >> 1), pos + 8 + length, pos + 12 + length]) offsets.add(o);
    pos += 12 + length;
  }
  return { chunks, offsets: [...offsets].filter((o) => o <= png.length).sort((a, b) => a - b) };
}

/** Offsets of every JPEG marker, segment payload and segment end (up to and including EOI). */
export function jpegBoundaries(jpeg: Uint8Array): { segments: Array<{ marker: number; start: number; length: number }>; offsets: number[] } {
  const segments: Array<{ marker: number; start: number; length: number }> = [];
  const offsets = new Set<number>([0, 1, 2]);
  let pos = 2;
  while (pos + 4 <= jpeg.length && jpeg[pos] === 0xff) {
    const marker = jpeg[pos + 1]!;
    const length = (jpeg[pos + 2]! << 8) | jpeg[pos + 3]!;
    segments.push({ marker, start: pos, length });
    for (const o of [pos, pos + 1, pos + 2, pos + 4, pos + 2 + length]) offsets.add(o);
    pos += 2 + length;
    if (marker === 0xda) {
      // Entropy-coded data: cut at its start, a few points inside, at each RSTn and before EOI.
      const end = jpeg.length - 2;
      for (const f of [0.1, 0.5, 0.9]) offsets.add(pos + Math.floor((end - pos) * f));
      for (let i = pos; i < end; i++) if (jpeg[i] === 0xff && jpeg[i + 1]! >= 0xd0 && jpeg[i + 1]! <= 0xd7) offsets.add(i);
      offsets.add(end);
      offsets.add(end + 1);
      break;
    }
  }
  return { segments, offsets: [...offsets].filter((o) => o <= jpeg.length).sort((a, b) => a - b) };
}

/**
 * A baseline JPEG of a uniform colour written by hand: `components` 1 (grey), 3 (YCbCr) or 4 (CMYK,
 * with an Adobe APP14 marker saying "no transform"), no subsampling, quantisation 1, every block DC
 * only. `restartInterval` > 0 adds a DRI segment and RSTn markers between MCUs.
 */
export function uniformJpeg(width: number, height: number, values: number[], restartInterval = 0): Uint8Array {
  const nc = values.length;
  const out: number[] = [0xff, 0xd8];
  const seg = (marker: number, payload: number[]): void => {
    out.push(0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload);
  };
  if (nc === 4) seg(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0]); // "Adobe", transform 0
  seg(0xdb, [0, ...new Array<number>(64).fill(1)]);
  const comps: number[] = [];
  for (let c = 0; c < nc; c++) comps.push(c + 1, 0x11, 0);
  seg(0xc0, [8, height >> 8, height & 255, width >> 8, width & 255, nc, ...comps]);
  // DC table 0: categories 0..11, every code 4 bits long (0000, 0001, ...). AC table 0: EOB only ("0").
  seg(0xc4, [0x00, 0, 0, 0, 12, ...new Array<number>(12).fill(0), ...Array.from({ length: 12 }, (_, i) => i)]);
  seg(0xc4, [0x10, 1, ...new Array<number>(15).fill(0), 0x00]);
  if (restartInterval > 0) seg(0xdd, [restartInterval >> 8, restartInterval & 255]);
  const scanComps: number[] = [];
  for (let c = 0; c < nc; c++) scanComps.push(c + 1, 0x00);
  seg(0xda, [nc, ...scanComps, 0, 63, 0]);

  let acc = 0;
  let nbits = 0;
  const put = (value: number, bits: number): void => {
    for (let i = bits - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >> i) & 1);
      if (++nbits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0); // byte stuffing
        acc = 0;
        nbits = 0;
      }
    }
  };
  const flush = (): void => {
    while (nbits !== 0) put(1, 1);
  };
  const mcus = Math.ceil(width / 8) * Math.ceil(height / 8);
  const pred = new Array<number>(nc).fill(0);
  let rst = 0;
  for (let m = 0; m < mcus; m++) {
    if (restartInterval > 0 && m > 0 && m % restartInterval === 0) {
      flush();
      out.push(0xff, 0xd0 + (rst++ % 8));
      pred.fill(0);
    }
    for (let c = 0; c < nc; c++) {
      const dc = 8 * (values[c]! - 128);
      const diff = dc - pred[c]!;
      pred[c] = dc;
      const mag = Math.abs(diff);
      const cat = mag === 0 ? 0 : Math.floor(Math.log2(mag)) + 1;
      put(cat, 4);
      if (cat > 0) put(diff > 0 ? diff : diff + (1 << cat) - 1, cat);
      put(0, 1); // EOB
    }
  }
  flush();
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

/** The JPEG with its first frame header (SOFn) patched to declare width x height. */
export function jpegDeclaring(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = jpeg.slice();
  for (const s of jpegBoundaries(jpeg).segments) {
    if (s.marker >= 0xc0 && s.marker <= 0xc2) {
      out[s.start + 5] = height >> 8;
      out[s.start + 6] = height & 255;
      out[s.start + 7] = width >> 8;
      out[s.start + 8] = width & 255;
      return out;
    }
  }
  throw new Error("no SOF0-2 in the JPEG");
}

/** The PNG with IHDR's width/height replaced (CRC recomputed, so only the numbers are hostile). */
export function pngDeclaring(png: Uint8Array, width: number, height: number): Uint8Array {
  const out = Buffer.from(png);
  out.writeUInt32BE(width >>> 0, 16);
  out.writeUInt32BE(height >>> 0, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return new Uint8Array(out);
}
