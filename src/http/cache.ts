/**
 * HTTP caching of results: a strong ETag from the canonical request (parameters with defaults, source,
 * negotiated format) and the model's sha256, conditional requests, and the Workers Cache API.
 *
 * The cache key is a header-less GET of `<origin>/enhance?<canonical>&model=<sha256>`, so the negotiated
 * format (never the raw Accept header) and the model version select the entry, and a new model never
 * serves an old model's output. On *.workers.dev the Cache API is a no-op; on a zone it is per colo.
 */
import { sha256Hex } from "../shared/hash.ts";

/** Strong ETag: 128 bits of SHA-256 over the canonical request and the model's sha256. */
export async function etagFor(canonical: string, modelSha256: string): Promise<string> {
  return `"${(await sha256Hex(`${canonical}\n${modelSha256}`)).slice(0, 32)}"`;
}

/** Whether If-None-Match (a list of entity tags, weak or strong, or `*`) matches `etag`. */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (header === null) return false;
  if (header.trim() === "*") return true;
  // Weak comparison, as RFC 9110 prescribes for If-None-Match.
  const opaque = etag.replace(/^W\//, "");
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === opaque);
}

export function cacheKey(origin: string, canonical: string, modelSha256: string): Request {
  return new Request(`${origin}/enhance?${canonical}&model=${modelSha256}`, { method: "GET" });
}

function defaultCache(): Cache | null {
  const c = (globalThis as { caches?: { default?: Cache } }).caches;
  return c?.default ?? null;
}

/** The stored response for `key`, or null. Cache failures count as misses: caching is an optimisation. */
export async function cacheLookup(key: Request): Promise<Response | null> {
  try {
    return (await defaultCache()?.match(key)) ?? null;
  } catch {
    return null;
  }
}

export async function cacheStore(key: Request, response: Response): Promise<void> {
  try {
    await defaultCache()?.put(key, response);
  } catch (e) {
    console.warn("cache put failed:", (e as Error).message);
  }
}
