/**
 * Persistent derived images in R2 (optional binding DERIVED): looked up after the Cache API misses and
 * before the source is fetched, written in waitUntil after a result is computed. The Cache API is per
 * data centre and evicts; R2 is one store for every location, so a popular thumbnail is computed once.
 *
 * Keys are `v1/<sha256 of canonical request + model sha256>`: the canonical request holds the source
 * (URL or the upload's hash), the normalised parameters and the negotiated format, and the model's
 * sha256 makes a new model miss every old object. An object is served only if its metadata names this
 * model, its content type is an image format we write, and its bytes sniff as that format; anything else
 * is ignored (and recomputed). R2 failures are logged and count as misses: the store is an optimisation.
 */
import { sniffFormat } from "../image/sniff.ts";
import { sha256Hex } from "../shared/hash.ts";
import { MIME_TYPES } from "../shared/image.ts";

/** Larger results are not stored (a full-size PNG can be several MB; R2 reads of it cost more than they save). */
export const MAX_STORED_BYTES = 4 * 1024 * 1024;

/** A read slower than this counts as a miss: computing the image is the fallback, not waiting on R2. */
export const R2_TIMEOUT_MS = 1500;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface StoredImage {
  bytes: Uint8Array<ArrayBuffer>;
  contentType: string;
  /** The response headers the result was first served with (validators, X-Enhance-*). */
  headers: Record<string, string>;
  /** Seconds it stays fresh from now (its Cache-Control's max-age, counted from when it was stored). */
  ttl: number;
}

export async function derivedKey(canonical: string, modelSha256: string): Promise<string> {
  return `v1/${await sha256Hex(`${canonical}\n${modelSha256}`)}`;
}

function warn(what: string, e: unknown): void {
  console.warn(JSON.stringify({ msg: "derived store", what, error: String(e) }));
}

/** The stored result for `key`, or null (absent, not for this model, corrupt, or R2 failing). */
export async function loadDerived(bucket: R2Bucket, key: string, modelSha256: string): Promise<StoredImage | null> {
  let obj: R2ObjectBody | null;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    obj = await within(bucket.get(key), R2_TIMEOUT_MS, "R2 get");
    if (obj === null) return null;
    if (obj.size > MAX_STORED_BYTES) return null;
    bytes = new Uint8Array(await within(obj.arrayBuffer(), R2_TIMEOUT_MS, "R2 read"));
  } catch (e) {
    warn("get failed", e);
    return null;
  }
  const meta = obj.customMetadata ?? {};
  const contentType = obj.httpMetadata?.contentType ?? "";
  const format = sniffFormat(bytes);
  if (meta.model !== modelSha256 || format === null || format === "gif" || format === "heic" || MIME_TYPES[format] !== contentType) {
    warn("ignored an object that is not this model's image", `${key}: model ${meta.model}, type ${contentType}, bytes ${format}`);
    return null;
  }
  // Stale objects are misses: the result is recomputed from the source and stored again.
  const expires = Number(meta.expires);
  const ttl = Number.isFinite(expires) ? Math.floor((expires - Date.now()) / 1000) : 0;
  if (ttl <= 0) return null;
  let headers: Record<string, string> = {};
  try {
    headers = JSON.parse(meta.headers ?? "{}") as Record<string, string>;
  } catch {
    headers = {};
  }
  return { bytes, contentType, headers, ttl };
}

/** Store a result fresh for `ttl` seconds (skipped above MAX_STORED_BYTES); for waitUntil, never throws. */
export async function storeDerived(bucket: R2Bucket, key: string, modelSha256: string, response: Response, ttl: number): Promise<void> {
  try {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > MAX_STORED_BYTES) return;
    const keep: Record<string, string> = {};
    for (const name of ["ETag", "Cache-Control", "Vary", "Content-Disposition", "X-Enhance-Strength", "X-Enhance-Size", "X-Enhance-Scaled-From", "X-Enhance-Model"]) {
      const v = response.headers.get(name);
      if (v !== null) keep[name] = v;
    }
    await bucket.put(key, bytes, {
      httpMetadata: { contentType: response.headers.get("Content-Type") ?? "application/octet-stream" },
      customMetadata: { model: modelSha256, headers: JSON.stringify(keep), expires: String(Date.now() + ttl * 1000) },
    });
  } catch (e) {
    warn("put failed", e);
  }
}
