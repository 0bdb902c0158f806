/**
 * Memory accounting the way the platform sees it: every WebAssembly.Memory counts at its current
 * size (memories grow and never shrink) for as long as it is reachable, next to the JS buffers of
 * the requests in flight.
 */

/** The WebAssembly.Memory among an instance's exports or its imports (threaded builds import it). */
export function findMemory(...sources: unknown[]): WebAssembly.Memory | undefined {
  for (const s of sources) {
    if (s instanceof WebAssembly.Memory) return s;
    if (typeof s !== "object" || s === null) continue;
    for (const v of Object.values(s)) {
      if (v instanceof WebAssembly.Memory) return v;
      // Imports are two levels deep: { module: { name: value } }.
      if (typeof v === "object" && v !== null && !ArrayBuffer.isView(v)) {
        for (const w of Object.values(v)) if (w instanceof WebAssembly.Memory) return w;
      }
    }
  }
  return undefined;
}

/** Current byte size of a memory; 0 when the owner has not instantiated it yet. */
export function memoryBytes(m: WebAssembly.Memory | undefined): number {
  return m ? m.buffer.byteLength : 0;
}

/**
 * The memories of one codec's short-lived instances (one per job): counted while they are still
 * reachable (in use, or not yet garbage-collected), plus the largest single one seen.
 */
export class MemoryTracker {
  private readonly live = new Set<WeakRef<WebAssembly.Memory>>();
  private largest = 0;

  add(m: WebAssembly.Memory | undefined): void {
    if (m) this.live.add(new WeakRef(m));
  }

  /** Bytes of the memories still reachable now. */
  bytes(): number {
    let sum = 0;
    for (const ref of this.live) {
      const m = ref.deref();
      if (m === undefined) {
        this.live.delete(ref);
        continue;
      }
      const n = m.buffer.byteLength;
      sum += n;
      if (n > this.largest) this.largest = n;
    }
    return sum;
  }

  /** The largest single memory seen (as of the last bytes() or note()). */
  peak(): number {
    return this.largest;
  }

  /** Record a memory's size now (call when a job ends, before it can be collected). */
  note(m: WebAssembly.Memory | undefined): void {
    if (m && m.buffer.byteLength > this.largest) this.largest = m.buffer.byteLength;
  }
}

/** Byte size of the WASM memories of an isolate/process, by owner. */
export interface WasmMemoryReport {
  /** onnxruntime-web: one instance per isolate. */
  ort: number;
  /** Codecs and resampler: one instance per job, counted while still reachable. */
  png: number;
  jpegDec: number;
  jpegEnc: number;
  resize: number;
  total: number;
  /** Largest single memory each per-job owner has had (what one request costs at most). */
  peak: { png: number; jpegDec: number; jpegEnc: number; resize: number };
}
