/**
 * Format and dimensions from the first bytes, without decoding, so oversized images are refused before
 * a decoder allocates anything. Every length is bounds-checked.
 * - JPEG: walks the marker segments to the first SOFn, reading the EXIF orientation from APP1 on the way.
 * - PNG: the IHDR chunk.
 * - WebP: the RIFF header, then the VP8 (lossy) key frame header, the VP8L (lossless) header, or the
 *   VP8X (extended) canvas size; animated WebP is refused (415).
 * - AVIF and HEIC (both HEIF): the ISO-BMFF boxes ftyp -> meta -> pitm (primary item) -> iprp/ipco
 *   (properties) + ipma (which belong to which item): the primary's `ispe`, the size the decoder
 *   produces (an `irot`/`imir` transform is not applied, as by the decoder). Image sequences are
 *   refused (415). HEIC also: the primary's type (iinf) and, for a grid, its first tile (iref dimg),
 *   whose size is what the decoder holds at once (heif.ts).
 */
import { HttpError } from "../shared/errors.ts";
import type { InputFormat } from "../shared/image.ts";
import { composeOrientations } from "./orient.ts";

export interface ImageHeader {
  format: InputFormat;
  width: number;
  height: number;
  /** EXIF orientation 1-8 (JPEG APP1, or AVIF irot/imir as the same codes); 1 when absent or invalid. */
  orientation: number;
  /** AVIF, HEIC: the primary item's colr property (an ICC profile, or coded primaries and transfer). */
  heifColour?: { icc: Uint8Array } | { primaries: number; transfer: number };
  /** HEIC: the size of the tiles the image is stored in (the image's own when it is not a grid). */
  heifTile?: { tileWidth: number; tileHeight: number };
  /** The colour was coded lossily, in blocks (JPEG, lossy WebP, AVIF): the chroma pass applies (chroma.ts). */
  lossyColour?: true;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** What the service reads, for error messages. */
export const ACCEPTED_INPUTS = "PNG, JPEG, WebP, AVIF, HEIC and GIF";

const ascii = (b: Uint8Array, o: number, n: number): string => String.fromCharCode(...b.subarray(o, o + n));

/** The format from magic bytes, or null when it is none of PNG, JPEG, WebP, AVIF, HEIC, GIF. */
export function sniffFormat(bytes: Uint8Array): InputFormat | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") return "webp";
  if (bytes.length >= 12 && ascii(bytes, 4, 4) === "ftyp" && isAvifBrand(bytes)) return "avif";
  if (bytes.length >= 12 && ascii(bytes, 4, 4) === "ftyp" && heicBrands(bytes)) return "heic";
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a")) return "gif";
  return null;
}

/** ftyp's major or a compatible brand is avif or avis (the box length bounds the brand list). */
function isAvifBrand(b: Uint8Array): boolean {
  const major = ascii(b, 8, 4);
  if (major === "avif" || major === "avis") return true; // even when the file is cut right after it
  const size = Math.min(u32(b, 0), b.length);
  const brands: string[] = [];
  for (let o = 16; o + 4 <= size; o += 4) brands.push(ascii(b, o, 4));
  return brands.includes("avif") || brands.includes("avis");
}

/** HEVC-coded HEIF: ftyp's major or a compatible brand is one of HEIC's (images or sequences). */
const HEIC_BRANDS = ["heic", "heix", "heim", "heis", "hevc", "hevx"];

function heicBrands(b: Uint8Array): boolean {
  if (HEIC_BRANDS.includes(ascii(b, 8, 4))) return true;
  const size = Math.min(u32(b, 0), b.length);
  for (let o = 16; o + 4 <= size; o += 4) if (HEIC_BRANDS.includes(ascii(b, o, 4))) return true;
  return false;
}

/** What other common formats look like, so a 415 can say what it got. */
function otherFormat(b: Uint8Array): string | null {
  if (ascii(b, 0, 4) === "GIF8") return "a GIF of an unknown version";
  if (ascii(b, 4, 4) === "ftyp") return `an ISO-BMFF file of brand "${ascii(b, 8, 4).replace(/[^\x20-\x7e]/g, "?")}" (neither AVIF nor HEIC)`;
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 42)) return "TIFF";
  if (b[0] === 0x42 && b[1] === 0x4d) return "BMP";
  if (/^\s*(<\?xml|<svg)/i.test(ascii(b, 0, 64))) return "SVG";
  return null;
}

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);

function undecodable(what: string): HttpError {
  return new HttpError(422, "undecodable", `the image header is invalid: ${what}`);
}

/**
 * Read format, dimensions and orientation from the header.
 * Throws HttpError 415 for anything but ACCEPTED_INPUTS, 422 for a truncated or corrupt header.
 */
export function readHeader(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (format === null) {
    const other = otherFormat(bytes);
    throw new HttpError(415, "unsupported_media_type", `the source is ${other ? other : "not a supported image"}: ${ACCEPTED_INPUTS} are allowed`);
  }
  if (format === "png") return readPng(bytes);
  if (format === "jpeg") return readJpeg(bytes);
  if (format === "gif") return readGif(bytes);
  return format === "webp" ? readWebp(bytes) : readHeif(bytes, format === "avif" ? "AVIF" : "HEIC");
}

/** GIF: the logical screen's size (every frame is drawn inside it). */
function readGif(b: Uint8Array): ImageHeader {
  if (b.length < 13) throw undecodable("GIF is truncated before its screen descriptor");
  const width = le16(b, 6);
  const height = le16(b, 8);
  checkedSize("GIF", width, height);
  return { format: "gif", width, height, orientation: 1 };
}

/** Larger than any decoder here accepts in one dimension; a header above it is refused as corrupt. */
const MAX_SIDE = 1 << 24;

function checkedSize(what: string, width: number, height: number): void {
  if (width === 0 || height === 0 || width > MAX_SIDE || height > MAX_SIDE) throw undecodable(`${what} declares ${width}x${height} pixels`);
}

const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const le24 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16);
const le32 = (b: Uint8Array, o: number): number => le24(b, o) + b[o + 3]! * 2 ** 24;

function unsupported(message: string): HttpError {
  return new HttpError(415, "unsupported_media_type", message);
}

function readWebp(b: Uint8Array): ImageHeader {
  // RIFF size counts from byte 8; a file may be shorter only if truncated, and never claims less than a chunk.
  const riff = le32(b, 4);
  if (riff < 4 + 8 || riff % 2 !== 0) throw undecodable(`WebP RIFF size ${riff} is invalid`);
  if (b.length < 20) throw undecodable("WebP is truncated before its first chunk");
  const end = Math.min(b.length, 8 + riff);
  const fourcc = ascii(b, 12, 4);
  const size = le32(b, 16);
  const data = 20;
  if (size === 0) throw undecodable(`WebP ${fourcc.trim()} chunk is empty`);
  if (data + size > 8 + riff) throw undecodable(`WebP ${fourcc.trim()} chunk runs past the RIFF size`);
  const need = (n: number): void => {
    if (size < n || data + n > end) throw undecodable(`WebP ${fourcc.trim()} header is truncated`);
  };
  let width: number;
  let height: number;
  if (fourcc === "VP8 ") {
    need(10);
    if ((b[data]! & 1) !== 0) throw undecodable("WebP VP8 data does not start with a key frame");
    if (b[data + 3] !== 0x9d || b[data + 4] !== 0x01 || b[data + 5] !== 0x2a) throw undecodable("WebP VP8 start code is missing");
    width = le16(b, data + 6) & 0x3fff;
    height = le16(b, data + 8) & 0x3fff;
  } else if (fourcc === "VP8L") {
    need(5);
    if (b[data] !== 0x2f) throw undecodable("WebP VP8L signature is missing");
    const bits = le32(b, data + 1);
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (fourcc === "VP8X") {
    need(10);
    const flags = b[data]!;
    if ((flags & 0x02) !== 0) throw unsupported("animated WebP is not supported: send a still image (PNG, JPEG, WebP or AVIF)");
    width = le24(b, data + 4) + 1;
    height = le24(b, data + 7) + 1;
  } else {
    throw undecodable(`WebP starts with a "${fourcc.replace(/[^\x20-\x7e]/g, "?")}" chunk, not VP8, VP8L or VP8X`);
  }
  checkedSize("WebP", width, height);
  const lossy = fourcc === "VP8 " || (fourcc === "VP8X" && webpHasLossyChunk(b, data + size + (size & 1), end));
  return { format: "webp", width, height, orientation: 1, ...(lossy ? { lossyColour: true as const } : {}) };
}

/** Whether an extended WebP's chunks from `o` on hold lossy image data ("VP8 ", not "VP8L"). */
function webpHasLossyChunk(b: Uint8Array, o: number, end: number): boolean {
  // Bounded by the chunk count a file of this size can hold; a zero-size chunk still advances 8 bytes.
  while (o + 8 <= end) {
    const fourcc = ascii(b, o, 4);
    if (fourcc === "VP8 ") return true;
    if (fourcc === "VP8L") return false;
    const size = le32(b, o + 4);
    o += 8 + size + (size & 1);
  }
  return false;
}

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

type HeifName = "AVIF" | "HEIC";

function readHeif(b: Uint8Array, name: HeifName): ImageHeader {
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

function readPng(b: Uint8Array): ImageHeader {
  // Signature, then the IHDR chunk must come first: length 13, "IHDR", width, height.
  if (b.length < 8 + 8 + 13) throw undecodable("PNG is truncated before the end of IHDR");
  if (u32(b, 8) !== 13 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== "IHDR") {
    throw undecodable("PNG does not start with an IHDR chunk");
  }
  const width = u32(b, 16);
  const height = u32(b, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw undecodable(`PNG declares ${width}x${height} pixels`);
  }
  return { format: "png", width, height, orientation: 1 };
}

function isSof(m: number): boolean {
  // C0-CF are SOFn except C4 (DHT), C8 (JPG extension) and CC (DAC).
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function readJpeg(b: Uint8Array): ImageHeader {
  let pos = 2; // after SOI
  let orientation = 1;
  for (;;) {
    // A marker is 0xFF (possibly repeated as fill) then a non-0xFF, non-zero code.
    if (pos >= b.length) throw undecodable("JPEG ends before its frame header (SOF)");
    if (b[pos] !== 0xff) throw undecodable(`JPEG has no marker at byte ${pos}`);
    while (pos < b.length && b[pos] === 0xff) pos++;
    if (pos >= b.length) throw undecodable("JPEG ends before its frame header (SOF)");
    const marker = b[pos]!;
    pos++;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // TEM, RSTn: no length
    if (marker === 0xd9 || marker === 0xda || marker === 0x00) {
      throw undecodable("JPEG has no frame header (SOF) before its image data");
    }
    if (pos + 2 > b.length) throw undecodable("JPEG segment length is truncated");
    const len = u16(b, pos);
    if (len < 2) throw undecodable(`JPEG segment length ${len} is invalid`);
    const start = pos + 2;
    const end = pos + len;
    if (end > b.length) throw undecodable("JPEG segment runs past the end of the data");
    if (isSof(marker)) {
      if (len < 8) throw undecodable("JPEG frame header is too short");
      const height = u16(b, start + 1);
      const width = u16(b, start + 3);
      // Height 0 means "defined later by a DNL marker", which the decoder does not support.
      if (width === 0 || height === 0) throw undecodable(`JPEG declares ${width}x${height} pixels`);
      // Four components: CMYK (or YCCK), a print colour space whose conversion needs its profile.
      if (b[start + 5] === 4) {
        throw new HttpError(422, "undecodable", "the JPEG is CMYK (a print colour space), which this service does not convert: save it as RGB");
      }
      return { format: "jpeg", width, height, orientation, lossyColour: true };
    }
    if (marker === 0xe1 && orientation === 1) orientation = exifOrientation(b.subarray(start, end));
    pos = end;
  }
}

/** Orientation tag (0x0112) of IFD0 in an APP1 payload ("Exif\0\0" + TIFF); 1 when absent or invalid. */
export function exifOrientation(app1: Uint8Array): number {
  const EXIF = [0x45, 0x78, 0x69, 0x66, 0, 0];
  if (app1.length < 6 + 8 || !EXIF.every((c, i) => app1[i] === c)) return 1;
  const t = app1.subarray(6);
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return 1;
  const r16 = (o: number): number => (little ? t[o]! | (t[o + 1]! << 8) : u16(t, o));
  const r32 = (o: number): number => (little ? (t[o]! | (t[o + 1]! << 8) | (t[o + 2]! << 16)) + t[o + 3]! * 2 ** 24 : u32(t, o));
  if (r16(2) !== 42) return 1;
  const ifd = r32(4);
  if (ifd + 2 > t.length) return 1;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return 1;
    if (r16(e) !== 0x0112) continue;
    if (r16(e + 2) !== 3) return 1; // must be SHORT
    const v = r16(e + 8);
    return v >= 1 && v <= 8 ? v : 1;
  }
  return 1;
}
