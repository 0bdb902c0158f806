/**
 * The configuration: every wrangler `[vars]` entry (and the SIGNING_KEY secret) in one schema, with
 * its default and the reason for it, validated the same way and resolved once per env object. A bad
 * value is a ConfigError naming the variable and what is allowed; the app answers every request with
 * a 500 that says so. wrangler.toml lists every variable with its default (a test keeps the two equal).
 */
import { parseAllowList, type AllowEntry } from "../source/address-rules.ts";
import type { PipelineLimits } from "../engine/options.ts";

const MP = 100_000_000;

interface IntVar {
  kind: "int";
  default: number;
  min: number;
  max: number;
}
interface BoolVar {
  kind: "bool";
  default: boolean;
}
interface ChoiceVar<T extends string> {
  kind: "choice";
  default: T;
  choices: readonly T[];
}
interface TextVar {
  kind: "text";
  default: string;
}

const int = (def: number, min: number, max: number): IntVar => ({ kind: "int", default: def, min, max });

/**
 * Every variable. The defaults keep the largest request of each kind inside the isolate's 128 MB
 * (with ORT's model memory beside it; `npm run memory` measures them, docs/configuration.md has the
 * figures) and keep the proxy closed to private addresses unless told otherwise.
 */
export const VARS = {
  /** Bytes of a source or upload (413 above): above any 12 MP JPEG; the bytes sit in memory next to the pixels. */
  MAX_SOURCE_BYTES: int(16 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  /**
   * Pixels of any source (422 above), read from the header: 8000 x 6000, a 48 MP camera or phone photo.
   * A JPEG decodes at the DCT scale its output needs, bounded by MAX_JPEG_DECODE_PIXELS; the other
   * formats have lower limits of their own.
   */
  MAX_SOURCE_PIXELS: int(8000 * 6000, 1, MP),
  /** Pixels a JPEG decodes into at its shrink-on-load scale: 4096 x 3072 (libjpeg-turbo's heap is about 4 bytes/pixel). */
  MAX_JPEG_DECODE_PIXELS: int(4096 * 3072, 1, MP),
  /**
   * Pixels a HEIC decodes into at its scale (tiles averaged 1/2, 1/4, 1/8): 4096 x 3072, as JPEG. The
   * pixels are a JS buffer; libheif's heap holds the file and one tile beside it (image/heif.ts).
   */
  MAX_HEIC_DECODE_PIXELS: int(4096 * 3072, 1, MP),
  /** Pixels of a PNG source: 1920 x 1280; the PNG decoder needs about four times the JPEG decoder's heap per pixel. */
  MAX_PNG_SOURCE_PIXELS: int(1920 * 1280, 1, MP),
  /** Pixels of a WebP source: 3264 x 2448; libwebp's heap per pixel is a little above the JPEG decoder's. */
  MAX_WEBP_SOURCE_PIXELS: int(3264 * 2448, 1, MP),
  /** Pixels of an AVIF source: 1920 x 1280; libavif + dav1d need about three times the JPEG decoder's heap per pixel. */
  MAX_AVIF_SOURCE_PIXELS: int(1920 * 1280, 1, MP),
  /** Pixels of a GIF source: 1920 x 1280; GIF decodes in JS, into the RGBA image and a byte per pixel of LZW output. */
  MAX_GIF_SOURCE_PIXELS: int(1920 * 1280, 1, MP),
  /** Pixels of the output: 1920 x 1280; a full-size encode holds the encoder's whole-image buffers beside the image. */
  MAX_OUTPUT_PIXELS: int(1920 * 1280, 1, MP),
  /** Output pixels for mode=full: 512 x 512; the net at output size is seconds of CPU (memory is bounded by tiling). */
  MAX_FULL_MODE_PIXELS: int(512 * 512, 1, MP),
  /** Output pixels encoded as AVIF: 1280 x 1024; the AVIF encoder is several times the JPEG encoder's time per pixel. */
  MAX_AVIF_PIXELS: int(1280 * 1024, 1, MP),
  /** Source bytes held by all of an isolate's requests in flight (503 above): what the largest request leaves of 128 MB. */
  MAX_BUFFERED_BYTES: int(24 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /** One deadline for all redirect hops and the body read of a source (504 above). */
  FETCH_TIMEOUT_MS: int(10_000, 100, 120_000),
  /** Redirects followed (502 above): each hop is a subrequest; real image hosts need one or two. */
  MAX_REDIRECTS: int(3, 0, 20),
  /** Seconds a result may be cached when its source says nothing about freshness (a year: the key holds the model). */
  CACHE_TTL: int(31_536_000, 0, 31_536_000),
  /**
   * Bounds on a source's own freshness (max-age, s-maxage, Expires): at least the minimum, so a source
   * that says max-age=0 cannot make every request a recomputation, and at most the maximum.
   */
  CACHE_TTL_MIN: int(60, 0, 31_536_000),
  CACHE_TTL_MAX: int(31_536_000, 0, 31_536_000),
  /**
   * Widths (and heights) a request may produce, comma-separated, e.g. "256,640,1080,1920"; empty: any.
   * A requested size (dpr applied) is rounded up to the next one, or down to the largest, so an open
   * deployment computes and caches a bounded set of variants.
   */
  ALLOWED_WIDTHS: { kind: "text", default: "" } as TextVar,
  /** Hosts a source may come from (comma-separated, `*.` for subdomains); empty: any public host. */
  ALLOWED_SOURCES: { kind: "text", default: "" } as TextVar,
  /** Sources on private, loopback and link-local addresses: only for local testing. */
  ALLOW_PRIVATE_SOURCES: { kind: "bool", default: false } as BoolVar,
  /** The period of the RATE_LIMITER binding in seconds, for Retry-After (the binding does not say). */
  RATE_LIMIT_PERIOD: int(60, 1, 86_400),
  /**
   * What a failing rate limiter means: "open" lets the request through (the pixel limits, the byte
   * budget and cpu_ms still bound it; the service stays up when the limiter is down), "closed" answers 503.
   */
  RATE_LIMIT_FAIL: { kind: "choice", default: "open", choices: ["open", "closed"] } as ChoiceVar<"open" | "closed">,
} as const;

export type VarName = keyof typeof VARS;

/** The bindings the Worker reads: the variables above, the signing secret, and the optional services. */
export type Env = { [K in VarName]?: string | number | boolean } & {
  /** Secret: when set, /enhance requires `sig` (src/source/signing.ts). At least 16 characters. */
  SIGNING_KEY?: string;
  /** Optional R2 bucket of derived images, shared by every location (src/http/derived-store.ts). */
  DERIVED?: R2Bucket;
  /** Optional Workers rate-limiting binding ([[ratelimits]] in wrangler.toml): requests per client IP on /enhance. */
  RATE_LIMITER?: RateLimit;
};

export interface Config {
  limits: PipelineLimits & {
    maxJpegDecodePixels: number;
    maxHeicDecodePixels: number;
    maxPngSourcePixels: number;
    maxWebpSourcePixels: number;
    maxGifSourcePixels: number;
    maxAvifSourcePixels: number;
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
  rateLimit: { periodSeconds: number; failClosed: boolean };
  /** Result freshness, in seconds (src/http/freshness.ts). */
  cacheTtl: { default: number; min: number; max: number };
  /** Allowed output widths/heights, ascending; empty: any. */
  allowedWidths: number[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const cache = new WeakMap<object, Config>();
const EMPTY: Env = {};

/** The configuration of `env` (memoised per env object); throws ConfigError naming the bad variable. */
export function getConfig(env: Env | undefined): Config {
  const key = env ?? EMPTY;
  let cfg = cache.get(key);
  if (cfg === undefined) {
    cfg = resolve(key);
    cache.set(key, cfg);
  }
  return cfg;
}

function readInt(env: Env, name: VarName, spec: IntVar): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return spec.default;
  const text = String(raw).trim().replace(/_/g, "");
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
    throw new ConfigError(`${name} must be an integer from ${spec.min} to ${spec.max} (got "${String(raw)}")`);
  }
  return n;
}

function readBool(env: Env, name: VarName, spec: BoolVar): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return spec.default;
  if (raw === true || raw === "true") return true;
  if (raw === false || raw === "false") return false;
  throw new ConfigError(`${name} must be "true" or "false" (got "${String(raw)}")`);
}

function readChoice<T extends string>(env: Env, name: VarName, spec: ChoiceVar<T>): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return spec.default;
  const found = spec.choices.find((c) => c === raw);
  if (found === undefined) throw new ConfigError(`${name} must be ${spec.choices.map((c) => `"${c}"`).join(" or ")} (got "${String(raw)}")`);
  return found;
}

function readText(env: Env, name: VarName, spec: TextVar): string {
  const raw = env[name];
  if (raw === undefined) return spec.default;
  if (typeof raw !== "string") throw new ConfigError(`${name} must be a string (got ${typeof raw})`);
  return raw;
}

function resolve(env: Env): Config {
  const n = (name: { [K in VarName]: (typeof VARS)[K] extends IntVar ? K : never }[VarName]): number => readInt(env, name, VARS[name]);
  const limits = {
    maxSourceBytes: n("MAX_SOURCE_BYTES"),
    maxSourcePixels: n("MAX_SOURCE_PIXELS"),
    maxJpegDecodePixels: n("MAX_JPEG_DECODE_PIXELS"),
    maxHeicDecodePixels: n("MAX_HEIC_DECODE_PIXELS"),
    maxPngSourcePixels: n("MAX_PNG_SOURCE_PIXELS"),
    maxOutputPixels: n("MAX_OUTPUT_PIXELS"),
    maxFullModePixels: n("MAX_FULL_MODE_PIXELS"),
    maxAvifPixels: n("MAX_AVIF_PIXELS"),
    maxAvifSourcePixels: n("MAX_AVIF_SOURCE_PIXELS"),
    maxWebpSourcePixels: n("MAX_WEBP_SOURCE_PIXELS"),
    maxGifSourcePixels: n("MAX_GIF_SOURCE_PIXELS"),
    maxBufferedBytes: n("MAX_BUFFERED_BYTES"),
    fetchTimeoutMs: n("FETCH_TIMEOUT_MS"),
    maxRedirects: n("MAX_REDIRECTS"),
  };
  if (limits.maxBufferedBytes < limits.maxSourceBytes) {
    throw new ConfigError(`MAX_BUFFERED_BYTES (${limits.maxBufferedBytes}) must be at least MAX_SOURCE_BYTES (${limits.maxSourceBytes})`);
  }
  const allowPrivate = readBool(env, "ALLOW_PRIVATE_SOURCES", VARS.ALLOW_PRIVATE_SOURCES);
  let allowList: AllowEntry[];
  try {
    allowList = parseAllowList(readText(env, "ALLOWED_SOURCES", VARS.ALLOWED_SOURCES));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const rateLimit = {
    periodSeconds: n("RATE_LIMIT_PERIOD"),
    failClosed: readChoice(env, "RATE_LIMIT_FAIL", VARS.RATE_LIMIT_FAIL) === "closed",
  };

  const cacheTtl = { default: n("CACHE_TTL"), min: n("CACHE_TTL_MIN"), max: n("CACHE_TTL_MAX") };
  if (cacheTtl.min > cacheTtl.max) throw new ConfigError(`CACHE_TTL_MIN (${cacheTtl.min}) must be at most CACHE_TTL_MAX (${cacheTtl.max})`);
  const allowedWidths = parseWidths(readText(env, "ALLOWED_WIDTHS", VARS.ALLOWED_WIDTHS));

  const key = env.SIGNING_KEY;
  if (key !== undefined && typeof key !== "string") throw new ConfigError("SIGNING_KEY must be a string");
  if (key !== undefined && key !== "" && key.length < 16) {
    throw new ConfigError("SIGNING_KEY must be at least 16 characters (use e.g. `openssl rand -hex 32`)");
  }
  return { limits, allowList, allowPrivate, signingKey: key === undefined || key === "" ? null : key, rateLimit, cacheTtl, allowedWidths };
}

/** "256, 640 1080" -> [256, 640, 1080]: whole numbers from 1 to 8192, sorted, without repeats. */
function parseWidths(raw: string): number[] {
  const parts = raw.split(/[\s,]+/).filter((p) => p !== "");
  const widths = parts.map((p) => {
    const n = Number(p);
    if (!/^[1-9]\d*$/.test(p) || n > 8192) throw new ConfigError(`ALLOWED_WIDTHS must be whole numbers from 1 to 8192, comma-separated (got "${p}")`);
    return n;
  });
  return [...new Set(widths)].sort((a, b) => a - b);
}
