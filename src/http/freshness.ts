/**
 * How long a proxied result may be cached, from what its source says (as imgproxy and Next.js do):
 * the source's s-maxage or max-age (or Expires) bounded by CACHE_TTL_MIN..CACHE_TTL_MAX; CACHE_TTL when
 * the source says nothing, then also `immutable` (the cache key holds the model, so only the source
 * could change it, and it made no claim). A `no-store` source is never stored; a `private` one only
 * by the client's own cache.
 */
export interface Freshness {
  /** The result's Cache-Control. */
  cacheControl: string;
  /** Whether shared stores (the Cache API, R2) may keep it. */
  shared: boolean;
  /** Seconds it stays fresh. */
  ttl: number;
}

export interface TtlBounds {
  default: number;
  min: number;
  max: number;
}

export function freshness(source: Headers, bounds: TtlBounds, now = Date.now()): Freshness {
  const directives = parseCacheControl(source.get("Cache-Control") ?? "");
  if (directives.has("no-store")) return { cacheControl: "no-store", shared: false, ttl: 0 };
  const clamp = (s: number) => Math.min(bounds.max, Math.max(bounds.min, s));
  const priv = directives.has("private");
  const seconds = (name: string) => {
    const v = directives.get(name);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  // no-cache means "revalidate every time", whatever else it says; s-maxage is meant for shared caches like this one.
  let given = directives.has("no-cache") ? 0 : (priv ? undefined : seconds("s-maxage")) ?? seconds("max-age");
  if (given === undefined) given = expiresIn(source, now);
  if (given === undefined) {
    const ttl = bounds.default;
    return priv ? { cacheControl: `private, max-age=${ttl}`, shared: false, ttl } : { cacheControl: `public, max-age=${ttl}, immutable`, shared: true, ttl };
  }
  const ttl = clamp(given);
  if (priv) return { cacheControl: `private, max-age=${ttl}`, shared: false, ttl };
  return { cacheControl: `public, max-age=${ttl}${directives.has("immutable") ? ", immutable" : ""}`, shared: ttl > 0, ttl };
}

/** Directive name (lower case) -> value ("" when it has none). */
function parseCacheControl(header: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of header.split(",")) {
    const [name, ...rest] = part.split("=");
    const key = name!.trim().toLowerCase();
    if (key === "") continue;
    out.set(key, rest.join("=").trim().replace(/^"(.*)"$/, "$1"));
  }
  return out;
}

/** Seconds from the source's Date (or now) until its Expires; 0 when already past; undefined without one. */
function expiresIn(source: Headers, now: number): number | undefined {
  const expires = source.get("Expires");
  if (expires === null) return undefined;
  const at = Date.parse(expires);
  // An invalid Expires (often "0" or "-1") means already expired.
  if (Number.isNaN(at)) return 0;
  const date = Date.parse(source.get("Date") ?? "");
  return Math.max(0, Math.floor((at - (Number.isNaN(date) ? now : date)) / 1000));
}
