/**
 * Codec instances kept between jobs. A fresh WebAssembly instance's memory is new to the process,
 * and the first touch of each of its pages is a page fault: at 1 MP that costs about as much as the
 * decoding or encoding itself (docs/performance.md). So each codec role keeps its last instance for
 * the next job, while that instance's memory is at most POOL_MAX_BYTES: memories never shrink, and a
 * large job's must not outlive it. An instance whose job threw is never kept (after the unwind its
 * state is undefined).
 *
 * A decoder that returns a view of its own memory (libjpeg-turbo, WebP) cannot be reused while those
 * pixels are in use: it is lent, and comes back on `recyclePools()`, which the engine calls when a
 * request's pipeline is over, for the decodes of that request only. A caller that never recycles
 * gets a fresh instance for every decode.
 */

/** The largest memory an idle instance keeps (a 1 MP photo's decode or encode, every thumbnail's). */
export const POOL_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The most all idle instances keep together: a decoder and an encoder at their largest (one kind of
 * request: JPEG to JPEG, JPEG to WebP...). Keeping one more lets the longest idle ones go first.
 */
export const POOL_TOTAL_MAX_BYTES = 2 * POOL_MAX_BYTES;

/** Every pool, least recently kept first. */
const pools = new Set<InstancePool<unknown>>();

export class InstancePool<T> {
  private idle?: T;
  private lent?: { inst: T; free?: () => void; at: number };

  constructor(private readonly memoryOf: (inst: T) => WebAssembly.Memory) {
    pools.add(this as InstancePool<unknown>);
  }

  /** The idle instance, taken out of the pool; undefined when there is none (make a fresh one). */
  take(): T | undefined {
    const inst = this.idle;
    this.idle = undefined;
    return inst;
  }

  /** A job ended normally: keep `inst` for the next, after `free` (its buffers), if it is small enough. */
  keep(inst: T, free?: () => void): void {
    const bytes = this.memoryOf(inst).buffer.byteLength;
    if (bytes > POOL_MAX_BYTES) return;
    free?.();
    this.idle = inst;
    // Most recently kept last; the others go, longest idle first, until all fit.
    pools.delete(this as InstancePool<unknown>);
    pools.add(this as InstancePool<unknown>);
    let total = 0;
    for (const p of pools) total += p.bytes();
    for (const p of pools) {
      if (total <= POOL_TOTAL_MAX_BYTES || p === (this as InstancePool<unknown>)) break;
      total -= p.bytes();
      p.release();
    }
  }

  /** A decode ended normally and its pixels live in `inst`'s memory: kept on `recycle` (the latest only). */
  lend(inst: T, free?: () => void): void {
    this.lent = { inst, at: ++clock, ...(free ? { free } : {}) };
  }

  /** The pixels lent after `since` (poolClock()) are no longer used. */
  recycle(since: number): void {
    const lent = this.lent;
    if (!lent || lent.at <= since) return;
    this.lent = undefined;
    this.keep(lent.inst, lent.free);
  }

  /** Let the idle instance go. */
  release(): void {
    this.idle = undefined;
  }

  /** Bytes of the idle instance's memory. */
  bytes(): number {
    return this.idle ? this.memoryOf(this.idle).buffer.byteLength : 0;
  }
}


/** Counts lendings, so that a caller recycles only what it lent itself. */
let clock = 0;

/** Now, for recyclePools: take it before the decodes whose pixels will be given back. */
export function poolClock(): number {
  return clock;
}

/**
 * The pixels of every decode since `since` (poolClock() before them) are no longer used (a request
 * is over): their instances come back. Decodes from before are not touched: their callers may still
 * hold the pixels.
 */
export function recyclePools(since: number): void {
  for (const p of pools) p.recycle(since);
}

/** Requests over this many pixels (decoded or output) let every idle instance go before they decode. */
export const POOL_REQUEST_MAX_PIXELS = 1.6e6;

/**
 * A request is about to decode and encode `pixels` pixels at most: when it is large, the idle
 * instances go first, so they never sit on top of a large request's own memory.
 */
export function makeRoomFor(pixels: number): void {
  if (pixels > POOL_REQUEST_MAX_PIXELS) for (const p of pools) p.release();
}
