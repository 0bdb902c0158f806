/**
 * Reads a stream into one array, at most `maxBytes` of it: null (the stream cancelled) as soon as it
 * is over. `each` sees every chunk's size first (a budget may refuse it by throwing; the stream is
 * cancelled and the error passed on). Source bodies and inflated colour profiles are read this way.
 */
export async function readUpTo(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  maxBytes: number,
  each?: (bytes: number) => void,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    try {
      each?.(value.byteLength);
    } catch (e) {
      await reader.cancel().catch(() => {});
      throw e;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
