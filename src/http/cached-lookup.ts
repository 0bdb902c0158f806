/**
 * The stores of derived images, looked up in order (this location's Cache API, then the R2 bucket when
 * one is bound) and written together once a result is computed. Either can fail or be absent: a
 * failure counts as a miss, because storing is an optimisation.
 */
import { cacheKey, cacheLookup, cacheStore, IMMUTABLE } from "./cache.ts";
import { derivedKey, loadDerived, storeDerived } from "./derived-store.ts";
import { SECURITY_HEADERS } from "./responses.ts";

export interface LookupArgs {
  origin: string;
  /** The canonical request (parameters, source, negotiated format). */
  canonical: string;
  modelSha256: string;
  etag: string;
  vary: boolean;
  bucket: R2Bucket | undefined;
  /** Stores run after the response (ExecutionContext.waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
}

export interface DerivedCache {
  /** A stored result and the layer that had it, or null. */
  find(): Promise<{ layer: "cache" | "r2"; response: Response } | null>;
  /** Store a computed result in every layer (after the response). */
  store(response: Response): void;
}

export async function derivedCache(a: LookupArgs): Promise<DerivedCache> {
  const key = cacheKey(a.origin, a.canonical, a.modelSha256);
  const r2Key = a.bucket ? await derivedKey(a.canonical, a.modelSha256) : "";
  return {
    async find() {
      const hit = await cacheLookup(key);
      if (hit !== null) return { layer: "cache", response: hit };
      if (!a.bucket) return null;
      const stored = await loadDerived(a.bucket, r2Key, a.modelSha256);
      if (stored === null) return null;
      const h = new Headers({ ...stored.headers, ...SECURITY_HEADERS, "Cache-Control": IMMUTABLE });
      h.set("Content-Type", stored.contentType);
      h.set("Content-Length", String(stored.bytes.byteLength));
      h.set("ETag", a.etag);
      if (a.vary) h.set("Vary", "Accept");
      h.set("X-Enhance-Cache", "r2");
      const response = new Response(stored.bytes, { status: 200, headers: h });
      // Back into this location's cache, so the next request here does not read R2 again.
      a.waitUntil(cacheStore(key, response.clone()));
      return { layer: "r2", response };
    },
    store(response) {
      a.waitUntil(cacheStore(key, response.clone()));
      if (a.bucket) a.waitUntil(storeDerived(a.bucket, r2Key, a.modelSha256, response.clone()));
    },
  };
}
