/**
 * A HEIC writer for fixtures and measurements: it takes single-image HEICs apart (their hvcC and
 * coded data) and assembles them into a grid, the way phones store their photos (iPhone: 512x512
 * HEVC tiles under a `grid` item). test/helpers/heic.ts and scripts/memory.ts use it.
 */
const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
const ascii = (b: Uint8Array, o: number, n: number): string => String.fromCharCode(...b.subarray(o, o + n));

interface RawBox {
  type: string;
  start: number;
  end: number;
  /** The whole box, header included. */
  bytes: Uint8Array;
}

function children(b: Uint8Array, start: number, end: number): RawBox[] {
  const out: RawBox[] = [];
  for (let pos = start; pos + 8 <= end; ) {
    const size = u32(b, pos);
    out.push({ type: ascii(b, pos + 4, 4), start: pos + 8, end: pos + size, bytes: b.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

/** A single-image HEIC's coded picture: its hvcC box (whole) and its data (iloc extents, in order). */
export interface HeicPicture {
  hvcC: Uint8Array;
  data: Uint8Array;
  width: number;
  height: number;
}

/** The parts of a single-image HEIC as heif-enc writes it (item 1, file-offset extents). */
export function heicPicture(file: Uint8Array): HeicPicture {
  const meta = children(file, 0, file.length).find((x) => x.type === "meta")!;
  const inner = children(file, meta.start + 4, meta.end);
  const ipco = children(file, inner.find((x) => x.type === "iprp")!.start, inner.find((x) => x.type === "iprp")!.end).find((x) => x.type === "ipco")!;
  const props = children(file, ipco.start, ipco.end);
  const hvcC = props.find((x) => x.type === "hvcC")!.bytes;
  const ispe = props.find((x) => x.type === "ispe")!;
  const iloc = inner.find((x) => x.type === "iloc")!;
  const version = file[iloc.start]!;
  const offsetSize = file[iloc.start + 4]! >> 4, lengthSize = file[iloc.start + 4]! & 15, baseSize = file[iloc.start + 5]! >> 4;
  const indexSize = version >= 1 ? file[iloc.start + 5]! & 15 : 0;
  const read = (o: number, n: number): number => (n === 0 ? 0 : n === 4 ? u32(file, o) : n === 8 ? u32(file, o + 4) : u16(file, o));
  let pos = iloc.start + 6;
  const count = version < 2 ? u16(file, pos) : u32(file, pos);
  pos += version < 2 ? 2 : 4;
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? u16(file, pos) : u32(file, pos);
    pos += version < 2 ? 2 : 4;
    if (version >= 1) pos += 2; // construction method (0: file offsets)
    pos += 2; // data reference index
    const base = read(pos, baseSize);
    pos += baseSize;
    const extents = u16(file, pos);
    pos += 2;
    const parts: Uint8Array[] = [];
    for (let e = 0; e < extents; e++) {
      pos += indexSize;
      const offset = read(pos, offsetSize);
      pos += offsetSize;
      const length = read(pos, lengthSize);
      pos += lengthSize;
      parts.push(file.subarray(base + offset, base + offset + length));
    }
    if (id === 1) return { hvcC, data: concat(parts), width: u32(file, ispe.start + 4), height: u32(file, ispe.start + 8) };
  }
  throw new Error("no item 1 in the HEIC");
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const be16 = (v: number): number[] => [(v >> 8) & 255, v & 255];
const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255];
const chars = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const box = (type: string, ...payload: Array<number[] | Uint8Array>): Uint8Array => {
  const body = concat(payload.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p))));
  return concat([Uint8Array.from([...be32(8 + body.length), ...chars(type)]), body]);
};
const fullBox = (type: string, version: number, flags: number, ...payload: Array<number[] | Uint8Array>): Uint8Array => box(type, [version, (flags >> 16) & 255, (flags >> 8) & 255, flags & 255], ...payload);
const ispe = (w: number, h: number): Uint8Array => fullBox("ispe", 0, 0, be32(w), be32(h));

export interface GridOptions {
  columns: number;
  rows: number;
  /** The grid's (output) size; at most columns x tile width. */
  width: number;
  height: number;
  /** Extra properties of the grid item, e.g. irot, colr (whole boxes). */
  properties?: Uint8Array[];
  /** The tiles' declared size (default: each picture's own). */
  tileSize?: { width: number; height: number };
  /** The primary item's type (default "grid"). */
  primaryType?: string;
}

/** A HEIC whose primary item is a grid of `tiles` (row-major), as phones write them. */
export function gridHeic(tiles: HeicPicture[], o: GridOptions): Uint8Array<ArrayBuffer> {
  const n = tiles.length;
  const gridId = 1, tileId = (i: number): number => 2 + i;
  const gridData = Uint8Array.from([0, 0, o.rows - 1, o.columns - 1, ...be16(o.width), ...be16(o.height)]);
  const ftyp = box("ftyp", chars("heic"), be32(0), chars("mif1"), chars("heic"));
  const hdlr = fullBox("hdlr", 0, 0, be32(0), chars("pict"), be32(0), be32(0), be32(0), [0]);
  const pitm = fullBox("pitm", 0, 0, be16(gridId));
  const infe = (id: number, type: string, hidden: boolean): Uint8Array => fullBox("infe", 2, hidden ? 1 : 0, be16(id), be16(0), chars(type), [0]);
  const iinf = fullBox("iinf", 0, 0, be16(n + 1), infe(gridId, o.primaryType ?? "grid", false), ...tiles.map((_, i) => infe(tileId(i), "hvc1", true)));
  const iref = fullBox("iref", 0, 0, box("dimg", be16(gridId), be16(n), ...tiles.map((_, i) => be16(tileId(i)))));
  // Properties: 1 = the grid's ispe, then its extras, then per tile its hvcC and ispe.
  const extras = o.properties ?? [];
  const props: Uint8Array[] = [ispe(o.width, o.height), ...extras];
  // One hvcC and ispe per distinct picture, shared by its tiles (as phones share one for all).
  const seen = new Map<HeicPicture, number[]>();
  const tileProps = tiles.map((t) => {
    let at = seen.get(t);
    if (!at) {
      props.push(t.hvcC, ispe(o.tileSize?.width ?? t.width, o.tileSize?.height ?? t.height));
      at = [props.length - 1, props.length];
      seen.set(t, at);
    }
    return at;
  });
  if (props.length > 127) throw new Error("too many distinct tiles for 7-bit property indices");
  const ipco = box("ipco", ...props);
  const entries: number[] = [...be16(gridId), 1 + extras.length, 1, ...extras.map((_, k) => 2 + k)];
  tiles.forEach((_, i) => entries.push(...be16(tileId(i)), 2, 0x80 | tileProps[i]![0]!, tileProps[i]![1]!));
  const ipma = fullBox("ipma", 0, 0, be32(n + 1), entries);
  const iprp = box("iprp", ipco, ipma);
  // iloc v0, 4-byte offsets and lengths, no base offset: the offsets are filled in once the layout is known.
  const ilocFor = (offsets: number[]): Uint8Array =>
    fullBox("iloc", 0, 0, [0x44, 0x00], be16(n + 1), ...[gridData, ...tiles.map((t) => t.data)].map((d, i) => [...be16(i === 0 ? gridId : tileId(i - 1)), ...be16(0), ...be16(1), ...be32(offsets[i]!), ...be32(d.length)]));
  const metaFor = (offsets: number[]): Uint8Array => fullBox("meta", 0, 0, hdlr, pitm, iinf, iref, iprp, ilocFor(offsets));
  const payloads = [gridData, ...tiles.map((t) => t.data)];
  const head = ftyp.length + metaFor(payloads.map(() => 0)).length + 8;
  const offsets: number[] = [];
  let at = head;
  for (const p of payloads) {
    offsets.push(at);
    at += p.length;
  }
  const file = concat([ftyp, metaFor(offsets), box("mdat", ...payloads)]);
  return new Uint8Array(file.buffer as ArrayBuffer, file.byteOffset, file.byteLength);
}

/** irot: a rotation of `quarters` x 90 degrees anticlockwise. */
export const irot = (quarters: number): Uint8Array => box("irot", [quarters & 3]);

/** colr with an ICC profile (as iPhones tag Display P3). */
export const colrIcc = (icc: Uint8Array): Uint8Array => box("colr", chars("prof"), icc);
