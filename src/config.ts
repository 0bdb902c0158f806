/**
 * Environment (wrangler vars / secrets) -> validated configuration, resolved once per env object.
 * Every var is optional; defaults are chosen so a 12 MP phone photo can be thumbnailed inside the
 * 128 MB isolate, and so the proxy is closed (no private addresses) unless told otherwise.
 */
import { parseAllowList, type AllowEntry } from "./source/address-rules.ts";
import type { PipelineLimits } from "./engine/pipeline.ts";

export interface Env {
  MAX_SOURCE_BYTES?: string | number;
  MAX_SOURCE_PIXELS?: string | number;
  MAX_OUTPUT_PIXELS?: string | number;
  MAX_PNG_SOURCE_PIXELS?: string | number;
  MAX_FULL_MODE_PIXELS?: string | number;
  MAX_AVIF_PIXELS?: string | number;
  MAX_AVIF_SOURCE_PIXELS?: string | number;
  MAX_WEBP_SOURCE_PIXELS?: string | number;
  MAX_BUFFERED_BYTES?: string | number;
  FETCH_TIMEOUT_MS?: string | number;
  MAX_REDIRECTS?: string | number;
  ALLOWED_SOURCES?: string;
  SIGNING_KEY?: string;
  ALLOW_PRIVATE_SOURCES?: string | boolean;
  /** Optional R2 bucket of derived images, shared by every location (src/http/derived-store.ts). */
  DERIVED?: R2Bucket;
  /** Optional Workers rate-limiting binding ([[ratelimits]] in wrangler.toml): requests per client IP on /enhance. */
  RATE_LIMITER?: RateLimit;
  /** Its period in seconds, for Retry-After (the binding does not say; default 60). */
  RATE_LIMIT_PERIOD?: string | number;
  /** "closed": answer 503 when the limiter fails; default open (see src/http/rate-limit.ts). */
  RATE_LIMIT_FAIL?: string;
}

export interface Config {
  limits: PipelineLimits & {
    maxAvifPixels: number;
    maxSourceBytes: number;
    maxBufferedBytes: number;
    fetchTimeoutMs: number;
    maxRedirects: number;
  };
  allowList: AllowEntry[];
  allowPrivate: boolean;
  /** null when signing is off. */
  signingKey: string | null;
}

export const DEFAULTS = {
  /** 16 MiB: larger than any 12 MP JPEG; the bytes live in the isolate's 128 MB next to the decoded pixels. */
  MAX_SOURCE_BYTES: 16 * 1024 * 1024,
  /**
   * 4096 x 3072 (12.6 MP): covers 12 MP phone photos. A JPEG decodes into about 4.5 bytes/pixel of
   * WASM heap (57 MB here), which with ORT's 28 MB and a thumbnail's encoder keeps the request under
   * 100 MB (npm run memory).
   */
  MAX_SOURCE_PIXELS: 4096 * 3072,
  /**
   * 1920 x 1280 (2.46 MP). A full-size JPEG output holds the decoded image (4.5 bytes/pixel) while
   * mozjpeg's encoder heap takes 16 MB + 12.6 bytes/pixel (whole-image trellis buffers): with ORT's
   * 28 MB that is about 85 MB here; 2048 x 2048 would need 114 MB.
   */
  MAX_OUTPUT_PIXELS: 1920 * 1280,
  /**
   * 1920 x 1280 (2.46 MP): the PNG decoder's heap is about 17 bytes/pixel (input, scanlines,
   * conversions) before the image is copied out; 2.46 MP keeps that request under 100 MB too.
   */
  MAX_PNG_SOURCE_PIXELS: 1920 * 1280,
  /**
   * 512 x 512: mode=full runs the net at output size, about 3.4 s of CPU in workerd. Memory is not
   * the bound: the runner splits large inputs into exact overlapping 128 px tiles (ORT stays at 28 MB).
   */
  MAX_FULL_MODE_PIXELS: 512 * 512,
  /**
   * 1280 x 1024 (1.3 MP): largest AVIF output. libaom at speed 10 costs about 150 ms per MP here,
   * several times the JPEG encoder; above this format=auto serves WebP and format=avif is a 422.
   */
  MAX_AVIF_PIXELS: 1280 * 1024,
  /**
   * 1920 x 1280 (2.46 MP): the AVIF decoder (libavif + dav1d) needs about 15 bytes/pixel of heap
   * (npm run memory: a 12 MP AVIF took 188 MB), so AVIF sources get their own, lower limit.
   */
  MAX_AVIF_SOURCE_PIXELS: 1920 * 1280,
  /**
   * 3264 x 2448 (8 MP): libwebp decodes into about 5.2 bytes/pixel of heap (a 12 MP WebP took 62 MB and
   * its thumbnail request 105 MB in npm run memory); 8 MP keeps the request under the budget.
   */
  MAX_WEBP_SOURCE_PIXELS: 3264 * 2448,
  /**
   * 24 MiB: source bytes held by all in-flight requests of an isolate together (they wait their turn
   * for the pipeline holding them). The worst single request peaks near 97 MB of the isolate's 128 MB,
   * which leaves about this much for the others' queued images. At least MAX_SOURCE_BYTES.
   */
  MAX_BUFFERED_BYTES: 24 * 1024 * 1024,
  /** One deadline for all redirect hops and the body read. */
  FETCH_TIMEOUT_MS: 10_000,
  /** Each hop is a subrequest; real image hosts need one or two. */
  MAX_REDIRECTS: 3,
} as const;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const cache = new WeakMap<object, Config>();

/** Resolves (and memoises per env object) the configuration; throws ConfigError naming the bad var. */
export function getConfig(env: Env | undefined): Config {
  const key = env ?? EMPTY;
  let cfg = cache.get(key);
  if (cfg === undefined) {
    cfg = resolveConfig(key);
    cache.set(key, cfg);
  }
  return cfg;
}
const EMPTY: Env = {};

export function resolveConfig(env: Env): Config {
  const int = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return DEFAULTS[name];
    const text = String(raw).trim().replace(/_/g, "");
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${String(raw)}")`);
    }
    return n;
  };
  const maxSourcePixels = int("MAX_SOURCE_PIXELS", 1, 100_000_000);
  const maxOutputPixels = int("MAX_OUTPUT_PIXELS", 1, 100_000_000);
  const maxPngSourcePixels = int("MAX_PNG_SOURCE_PIXELS", 1, 100_000_000);
  const maxFullModePixels = int("MAX_FULL_MODE_PIXELS", 1, 100_000_000);
  const limits = {
    maxSourceBytes: int("MAX_SOURCE_BYTES", 1024, 100 * 1024 * 1024),
    maxSourcePixels,
    maxPngSourcePixels,
    maxOutputPixels,
    maxFullModePixels,
    maxAvifPixels: int("MAX_AVIF_PIXELS", 1, 100_000_000),
    maxAvifSourcePixels: int("MAX_AVIF_SOURCE_PIXELS", 1, 100_000_000),
    maxWebpSourcePixels: int("MAX_WEBP_SOURCE_PIXELS", 1, 100_000_000),
    maxBufferedBytes: int("MAX_BUFFERED_BYTES", 1024, 1024 * 1024 * 1024),
    fetchTimeoutMs: int("FETCH_TIMEOUT_MS", 100, 120_000),
    maxRedirects: int("MAX_REDIRECTS", 0, 20),
  };

  if (limits.maxBufferedBytes < limits.maxSourceBytes) {
    throw new ConfigError(`MAX_BUFFERED_BYTES (${limits.maxBufferedBytes}) must be at least MAX_SOURCE_BYTES (${limits.maxSourceBytes})`);
  }

  const privRaw = env.ALLOW_PRIVATE_SOURCES;
  let allowPrivate: boolean;
  if (privRaw === undefined || privRaw === "" || privRaw === false || privRaw === "false") allowPrivate = false;
  else if (privRaw === true || privRaw === "true") allowPrivate = true;
  else throw new ConfigError(`ALLOW_PRIVATE_SOURCES must be "true" or "false" (got "${String(privRaw)}")`);

  let allowList: AllowEntry[];
  try {
    allowList = parseAllowList(env.ALLOWED_SOURCES ?? "");
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }

  const key = env.SIGNING_KEY;
  if (key !== undefined && typeof key !== "string") throw new ConfigError("SIGNING_KEY must be a string");
  if (key !== undefined && key !== "" && key.length < 16) {
    throw new ConfigError("SIGNING_KEY must be at least 16 characters (use e.g. `openssl rand -hex 32`)");
  }

  return { limits, allowList, allowPrivate, signingKey: key === undefined || key === "" ? null : key };
}
