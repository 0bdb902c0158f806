/**
 * The stores of derived images, looked up in order (this location's Cache API, then the R2 bucket when
 * one is bound) and written together once a result is computed, for as long as it is fresh. Either can
 * fail or be absent: a failure counts as a miss, because storing is an optimisation.
 */
import { cacheKey, cacheLookup, cacheStore } from "./cache.ts";
import { derivedKey, loadDerived, storeDerived } from "./derived-store.ts";
import { SECURITY_HEADERS } from "./responses.ts";

export interface LookupArgs {
  origin: string;
  /** The canonical request (parameters, source, negotiated format). */
  canonical: string;
  modelSha256: string;
  bucket: R2Bucket | undefined;
  /** Stores run after the response (ExecutionContext.waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
}

export interface DerivedCache {
  /** A fresh stored result and the layer that had it, or null. */
  find(): Promise<{ layer: "cache" | "r2"; response: Response } | null>;
  /** Store a computed result, fresh for `ttl` seconds, in every layer, or only the Cache API (after the response). */
  store(response: Response, ttl: number, layers?: "all" | "cache"): void;
}

export async function derivedCache(a: LookupArgs): Promise<DerivedCache> {
  const key = cacheKey(a.origin, a.canonical, a.modelSha256);
  const r2Key = a.bucket ? await derivedKey(a.canonical, a.modelSha256) : "";
  return {
    async find() {
      // The Cache API keeps an entry only while its Cache-Control says it is fresh.
      const hit = await cacheLookup(key);
      if (hit !== null) return { layer: "cache", response: hit };
      if (!a.bucket) return null;
      const stored = await loadDerived(a.bucket, r2Key, a.modelSha256);
      if (stored === null) return null;
      const h = new Headers({ ...stored.headers, ...SECURITY_HEADERS });
      h.set("Cache-Control", withMaxAge(stored.headers["Cache-Control"] ?? "public", stored.ttl));
      h.set("Content-Type", stored.contentType);
      h.set("Content-Length", String(stored.bytes.byteLength));
      h.set("X-Enhance-Cache", "r2");
      const response = new Response(stored.bytes, { status: 200, headers: h });
      // Back into this location's cache, so the next request here does not read R2 again.
      a.waitUntil(cacheStore(key, response.clone()));
      return { layer: "r2", response };
    },
    store(response, ttl, layers = "all") {
      a.waitUntil(cacheStore(key, response.clone()));
      if (a.bucket && layers === "all") a.waitUntil(storeDerived(a.bucket, r2Key, a.modelSha256, response.clone(), ttl));
    },
  };
}

/** `cacheControl` with its max-age set to what is left of it (public and immutable kept as served). */
function withMaxAge(cacheControl: string, seconds: number): string {
  const rest = cacheControl.split(",").map((d) => d.trim()).filter((d) => d !== "" && !/^max-age=/i.test(d));
  return [rest[0] ?? "public", `max-age=${seconds}`, ...rest.slice(1)].join(", ");
}
