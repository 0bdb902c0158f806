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

/** Sees a job's WASM memory when the job starts and when it ends (MemoryTracker is one). */
export interface MemoryWatch {
  start(m: WebAssembly.Memory): void;
  end(m: WebAssembly.Memory): void;
}

/**
 * The memories of one codec's short-lived instances (one per job). A job's memory is held (and
 * counted) from start() to end(); after that the tracker keeps no reference, so it is garbage unless
 * the job's result is a view of it (decoded pixels are), and it then lives exactly as long as that
 * result. (No WeakRef here: V8 keeps a WeakRef's target alive until the current macrotask ends,
 * which would hold every heap of a request until the request is over.)
 */
export class MemoryTracker implements MemoryWatch {
  private readonly active = new Set<WebAssembly.Memory>();
  private largest = 0;

  start(m: WebAssembly.Memory): void {
    this.active.add(m);
  }

  /** The job is over (call from a finally): its memory is at its largest now. */
  end(m: WebAssembly.Memory): void {
    if (m.buffer.byteLength > this.largest) this.largest = m.buffer.byteLength;
    try {
      jobEnd.probe?.();
    } finally {
      this.active.delete(m);
      releasedHeaps.add(m.buffer);
    }
  }

  /** Bytes of the memories of the jobs running now. */
  bytes(): number {
    let sum = 0;
    for (const m of this.active) sum += m.buffer.byteLength;
    return sum;
  }

  /** The largest single memory a job has had. */
  peak(): number {
    return this.largest;
  }
}

/** Buffers of finished jobs' memories: a decoded image whose data is a view of one holds that whole heap. */
export const releasedHeaps = new WeakSet<ArrayBufferLike>();

/**
 * Measurement hook (scripts/memory.ts): called at the end of every codec/resampler job, the moment
 * its memory is largest, so a measurement sees peaks that stage boundaries would miss.
 */
export const jobEnd: { probe?: () => void } = {};

/** Byte size of the WASM memories of an isolate/process, by owner. */
export interface WasmMemoryReport {
  /** onnxruntime-web: one instance per isolate. */
  ort: number;
  /** Codecs and resampler: one instance per job, counted while the job runs. */
  png: number;
  jpegDec: number;
  jpegEnc: number;
  heifDec: number;
  webpDec: number;
  webpEnc: number;
  avifDec: number;
  avifEnc: number;
  resize: number;
  /** The pixel kernels (src/image/pixels.ts): one small instance per isolate, reused by every job. */
  pixels: number;
  total: number;
  /** Largest single memory each per-job owner has had (what one request costs at most). */
  peak: { png: number; jpegDec: number; jpegEnc: number; heifDec: number; webpDec: number; webpEnc: number; avifDec: number; avifEnc: number; resize: number; pixels: number };
}
