/**
 * AVIF and HEIC (both HEIF) headers, from the ISO-BMFF boxes ftyp -> meta -> pitm (primary item) ->
 * iprp/ipco (properties) + ipma (which belong to which item): the primary's `ispe`, the size the
 * decoder produces (an `irot`/`imir` transform is not applied, as by the decoder), its `colr`, and
 * for HEIC its type (iinf) and, for a grid, its tiles' size (iref dimg), which is what the decoder
 * holds at once (heif.ts). Image sequences are refused (415). Every length is bounds-checked.
 */
import { composeOrientations } from "./orient.ts";
import { ascii, checkedSize, u16, u32, undecodable, unsupported, type ImageHeader } from "./header.ts";

interface Box {
  type: string;
  /** Payload start and end (after the header; end bounded by the parent). */
  start: number;
  end: number;
}

/** The boxes inside [start, end), each length checked against its parent. */
function boxes(b: Uint8Array, start: number, end: number, what: string, name: HeifName): Box[] {
  const out: Box[] = [];
  let pos = start;
  while (pos + 8 <= end) {
    let size = u32(b, pos);
    const type = ascii(b, pos + 4, 4);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > end) throw undecodable(`${name} ${what} box header is truncated`);
      const hi = u32(b, pos + 8);
      if (hi !== 0) throw undecodable(`${name} box "${type}" is larger than 4 GB`);
      size = u32(b, pos + 12);
      header = 16;
    } else if (size === 0) {
      size = end - pos; // to the end of the enclosing box (or file)
    }
    if (size < header) throw undecodable(`${name} box "${type}" has an invalid size ${size}`);
    if (pos + size > end) throw undecodable(`${name} box "${type}" runs past the end of its ${what}`);
    out.push({ type, start: pos + header, end: pos + size });
    pos += size;
    if (out.length > 4096) throw undecodable(`${name} has too many boxes`);
  }
  return out;
}

export type HeifName = "AVIF" | "HEIC";

export function readHeif(b: Uint8Array, name: HeifName): ImageHeader {
  const top = boxes(b, 0, b.length, "file", name);
  const ftyp = top.find((x) => x.type === "ftyp")!;
  const brands = [ascii(b, ftyp.start, 4)];
  for (let o = ftyp.start + 8; o + 4 <= ftyp.end; o += 4) brands.push(ascii(b, o, 4));
  const still = name === "AVIF" ? brands.includes("avif") : brands.some((x) => x === "heic" || x === "heix" || x === "mif1");
  const meta = top.find((x) => x.type === "meta");
  if (!still || !meta) throw unsupported(`animated ${name} (an image sequence) is not supported: send a still image`);
  // meta is a FullBox: 4 bytes of version and flags before its children.
  const inner = boxes(b, meta.start + 4, meta.end, "meta box", name);
  const pitm = inner.find((x) => x.type === "pitm");
  const iprp = inner.find((x) => x.type === "iprp");
  if (!pitm || !iprp) throw undecodable(`${name} has no primary item or no item properties`);
  if (pitm.end - pitm.start < 6) throw undecodable(`${name} pitm box is truncated`);
  const primary = b[pitm.start] === 0 ? u16(b, pitm.start + 4) : u32(b, pitm.start + 4);
  const props = boxes(b, iprp.start, iprp.end, "iprp box", name);
  const ipco = props.find((x) => x.type === "ipco");
  if (!ipco) throw undecodable(`${name} has no property container (ipco)`);
  const properties = boxes(b, ipco.start, ipco.end, "ipco box", name);
  const associated = associations(b, props, name);
  const propsOf = (id: number): Array<Box | undefined> => (associated.get(id) ?? []).map((i) => properties[i - 1]);
  const mine = propsOf(primary);
  const { width, height } = itemSize(b, mine, name, "primary item");
  checkedSize(name, width, height);
  const header: ImageHeader = { format: name === "AVIF" ? "avif" : "heic", width, height, orientation: heifOrientation(b, mine), lossyColour: true };
  const colr = mine.find((p) => p?.type === "colr");
  if (colr && colr.end - colr.start >= 4) {
    const kind = ascii(b, colr.start, 4);
    if (kind === "prof" || kind === "rICC") header.heifColour = { icc: b.subarray(colr.start + 4, colr.end) };
    else if (kind === "nclx" && colr.end - colr.start >= 8) header.heifColour = { primaries: u16(b, colr.start + 4), transfer: u16(b, colr.start + 6) };
  }
  if (name === "HEIC") header.heifTile = heicTile(b, inner, primary, width, height, propsOf);
  return header;
}

/** ipma: which properties (1-based indices into ipco) belong to which item. */
function associations(b: Uint8Array, props: Box[], name: HeifName): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const ipma of props.filter((x) => x.type === "ipma")) {
    if (ipma.end - ipma.start < 8) throw undecodable(`${name} ipma box is truncated`);
    const version = b[ipma.start]!;
    const wide = (b[ipma.start + 3]! & 1) === 1;
    let pos = ipma.start + 4;
    const count = u32(b, pos);
    pos += 4;
    for (let i = 0; i < count; i++) {
      const idSize = version < 1 ? 2 : 4;
      if (pos + idSize + 1 > ipma.end) throw undecodable(`${name} ipma box is truncated`);
      const id = idSize === 2 ? u16(b, pos) : u32(b, pos);
      pos += idSize;
      const n = b[pos++]!;
      const list = out.get(id) ?? [];
      for (let k = 0; k < n; k++) {
        if (pos + (wide ? 2 : 1) > ipma.end) throw undecodable(`${name} ipma box is truncated`);
        list.push(wide ? u16(b, pos) & 0x7fff : b[pos]! & 0x7f);
        pos += wide ? 2 : 1;
      }
      out.set(id, list);
    }
  }
  return out;
}

/** An item's ispe (its width and height). */
function itemSize(b: Uint8Array, props: Array<Box | undefined>, name: HeifName, what: string): { width: number; height: number } {
  const ispe = props.find((p) => p?.type === "ispe");
  if (!ispe) throw undecodable(`${name} ${what} has no size (ispe)`);
  if (ispe.end - ispe.start < 12) throw undecodable(`${name} ispe box is truncated`);
  return { width: u32(b, ispe.start + 4), height: u32(b, ispe.start + 8) };
}

/**
 * HEIC: the primary item is one HEVC image (hvc1: its own size is the tile) or a grid of them (the
 * size of its first tile, iref dimg); anything else (overlays, derived images) is refused.
 */
function heicTile(b: Uint8Array, meta: Box[], primary: number, width: number, height: number, propsOf: (id: number) => Array<Box | undefined>): { tileWidth: number; tileHeight: number } {
  const types = new Map<number, string>();
  const iinf = meta.find((x) => x.type === "iinf");
  if (iinf && iinf.end - iinf.start >= 6) {
    const head = b[iinf.start] === 0 ? 6 : 8;
    for (const infe of boxes(b, iinf.start + head, iinf.end, "iinf box", "HEIC")) {
      const v = b[infe.start]!;
      if (infe.type !== "infe" || v < 2) continue;
      const idAt = infe.start + 4, typeAt = idAt + (v === 2 ? 2 : 4) + 2;
      if (typeAt + 4 > infe.end) throw undecodable("HEIC infe box is truncated");
      types.set(v === 2 ? u16(b, idAt) : u32(b, idAt), ascii(b, typeAt, 4));
    }
  }
  const type = types.get(primary);
  if (type === "hvc1") return { tileWidth: width, tileHeight: height };
  if (type !== "grid") {
    throw unsupported(`the HEIC's image is ${type ? `a "${type.replace(/[^\x20-\x7e]/g, "?")}" item` : "of no declared type"}: only HEVC images and grids of them are supported`);
  }
  const iref = meta.find((x) => x.type === "iref");
  if (iref && iref.end - iref.start >= 4) {
    const wide = b[iref.start] !== 0;
    for (const ref of boxes(b, iref.start + 4, iref.end, "iref box", "HEIC")) {
      const idSize = wide ? 4 : 2;
      if (ref.type !== "dimg" || ref.start + 2 * idSize + 2 > ref.end) continue;
      if ((wide ? u32(b, ref.start) : u16(b, ref.start)) !== primary) continue;
      // Every tile the size of the first, as HEIF requires: libheif holds one tile at a time, and
      // trusts each tile's declared size for how much it may take.
      const count = u16(b, ref.start + idSize);
      if (ref.start + idSize + 2 + count * idSize > ref.end) throw undecodable("HEIC iref box is truncated");
      let tile: { width: number; height: number } | undefined;
      for (let k = 0; k < count; k++) {
        const at = ref.start + idSize + 2 + k * idSize;
        const id = wide ? u32(b, at) : u16(b, at);
        if (types.get(id) !== "hvc1") throw unsupported("the HEIC's grid is not made of HEVC images: it is not supported");
        const size = itemSize(b, propsOf(id), "HEIC", "grid tile");
        if (!tile) tile = size;
        else if (size.width !== tile.width || size.height !== tile.height) throw undecodable(`HEIC grid tiles differ in size (${tile.width}x${tile.height} and ${size.width}x${size.height})`);
      }
      if (!tile) break;
      checkedSize("HEIC tile", tile.width, tile.height);
      return { tileWidth: tile.width, tileHeight: tile.height };
    }
  }
  throw undecodable("HEIC grid has no tiles (iref dimg)");
}

/**
 * The primary item's transformative properties, irot (a rotation of angle x 90 degrees
 * anticlockwise) and imir (a mirror about the vertical (0) or horizontal (1) axis), applied in the
 * order they are associated, as the single EXIF orientation that does the same.
 */
function heifOrientation(b: Uint8Array, props: Array<Box | undefined>): number {
  const ops: number[] = [];
  for (const p of props) {
    if (!p || p.end <= p.start) continue;
    if (p.type === "irot") ops.push([1, 8, 3, 6][b[p.start]! & 3]!);
    else if (p.type === "imir") ops.push((b[p.start]! & 1) === 0 ? 2 : 4);
  }
  return composeOrientations(ops);
}
