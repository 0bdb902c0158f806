/**
 * A check of a GIF frame's LZW codes before omggif decodes them. omggif follows each code's chain of
 * prefixes through its table and trusts the stream: a code beyond the next free entry (which a
 * damaged file has) puts a loop into that table, and its decoder then never returns, holding the
 * isolate. A valid stream only refers to entries already made (or, once, to the one being made), so
 * every chain runs down to a literal; this walks the codes the way omggif reads them (the same
 * sub-blocks, code sizes and stopping points) and refuses the first that breaks that rule.
 */

/** Throws when the LZW data at `p` (the minimum code size byte) of `b` refers to an entry not yet made. */
export function checkGifLzw(b: Uint8Array, p: number, pixels: number): void {
  const min = b[p++] ?? 0;
  if (min < 1 || min > 11) throw new Error(`the GIF's LZW minimum code size ${min} is invalid`);
  const clear = 1 << min, eoi = clear + 1;
  const length = new Int32Array(4096); // output length of each entry
  let next = eoi + 1, size = min + 1, mask = (1 << size) - 1;
  let cur = 0, shift = 0, out = 0, prev = -1;
  // Past the end omggif reads zeros with a sub-block size that never reaches 0 again (NaN).
  let sub: number = b[p++] ?? NaN;
  for (;;) {
    while (shift < 16) {
      if (sub === 0) break;
      cur |= (b[p++] ?? 0) << shift;
      shift += 8;
      if (sub === 1) sub = b[p++] ?? NaN;
      else --sub;
    }
    if (shift < size) return;
    const code = cur & mask;
    cur >>= size;
    shift -= size;
    if (code === clear) {
      next = eoi + 1;
      size = min + 1;
      mask = (1 << size) - 1;
      prev = -1;
      continue;
    }
    if (code === eoi) return;
    if (code > next || (code === next && prev < 0)) throw new Error(`the GIF's image data is damaged (LZW code ${code} where the table ends at ${next})`);
    const n = code < clear ? 1 : code < next ? length[code]! : length[prev]! + 1;
    out += n;
    if (out > pixels) return; // omggif stops there ("longer than expected")
    if (prev >= 0 && next < 4096) {
      length[next] = (prev < clear ? 1 : length[prev]!) + 1;
      next++;
      if (next >= mask + 1 && size < 12) {
        size++;
        mask = (mask << 1) | 1;
      }
    }
    prev = code;
  }
}
