/**
 * Read `metadata_props` from ONNX bytes with a minimal protobuf reader, so the Worker bundle needs no
 * protobuf library. ModelProto field 14 is a repeated StringStringEntryProto {1: key, 2: value};
 * every other field is skipped by its wire type.
 */

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("ONNX protobuf: truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new Error("ONNX protobuf: varint longer than 10 bytes");
  }
  /** [start, end) of a length-delimited field's payload; advances past it. */
  bytes(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw new Error("ONNX protobuf: field runs past the end of its message");
    this.pos = start + len;
    return [start, this.pos];
  }
  skip(wire: number): void {
    switch (wire) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: this.bytes(); return;
      case 5: this.advance(4); return;
      default: throw new Error(`ONNX protobuf: unsupported wire type ${wire}`);
    }
  }
  private advance(n: number): void {
    if (this.pos + n > this.end) throw new Error("ONNX protobuf: truncated fixed-width field");
    this.pos += n;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** All metadata_props entries of an ONNX ModelProto. Throws on malformed protobuf. */
export function readOnnxMetadata(model: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const r = new Reader(model, 0, model.length);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 14 && wire === 2) {
      const [s, e] = r.bytes();
      const entry = new Reader(model, s, e);
      let key = "";
      let value = "";
      while (entry.pos < entry.end) {
        const t = entry.varint();
        const f = Math.floor(t / 8);
        const w = t & 7;
        if ((f === 1 || f === 2) && w === 2) {
          const [a, b] = entry.bytes();
          const text = utf8.decode(model.subarray(a, b));
          if (f === 1) key = text;
          else value = text;
        } else entry.skip(w);
      }
      out[key] = value;
    } else r.skip(wire);
  }
  return out;
}
