/**
 * Query parameters of /enhance: strict parsing (anything unknown, repeated or out of range is a 400
 * naming the parameter and what is allowed) and the canonical strings used for signing and caching.
 *
 * Nothing is clamped or rounded: a value is either accepted exactly or refused. Each distinct
 * w/h/q/strength is therefore its own computation and cache entry; operators who need to bound that
 * set SIGNING_KEY so only URLs they generated are served.
 */
import { HttpError } from "../shared/errors.ts";
import type { Fit, ImageFormat } from "../shared/image.ts";
import { DEFAULT_QUALITY } from "../image/codecs.ts";

export type RequestedFormat = ImageFormat | "auto";

export interface EnhanceParams {
  /** Source URL exactly as given (GET only; checked by address-rules). */
  url?: string;
  /** Output bounds in pixels, with dpr already applied (w x dpr, rounded). */
  width?: number;
  height?: number;
  fit: Fit;
  format: RequestedFormat;
  /** Quality 1-100 for jpeg, webp and avif (ignored for PNG); undefined = the format's default. */
  quality?: number;
  strength: number | "auto";
  /** Smoothing of the noise the curves lift: 0 = off, 0..1, auto (see src/image/denoise.ts). */
  denoise: number | "auto";
  mode: "fast" | "full";
  orient: boolean;
}

export const PARAM_DEFAULTS = {
  fit: "scale-down",
  format: "auto",
  strength: "auto",
  denoise: "auto",
  mode: "fast",
  orient: true,
} as const;

/** Largest accepted w or h; the output pixel budget (MAX_OUTPUT_PIXELS) is checked by the pipeline. */
export const MAX_DIMENSION = 8192;

export const ALLOWED_PARAMS = ["url", "w", "h", "dpr", "fit", "format", "q", "strength", "denoise", "mode", "orient", "sig"] as const;

export const FORMATS = ["auto", "jpeg", "png", "webp", "avif"] as const;

/** dpr: device pixel ratio 1-4, multiplies w and h (as in Cloudflare Images and imgix). */
export const MAX_DPR = 4;

export interface ParsedQuery {
  params: EnhanceParams;
  /** The `sig` parameter, if given. */
  sig: string | null;
  /** What a signature covers: every parameter except sig (see signingPayload). */
  signingPayload: string;
}

/** Parses /enhance's query. `method` decides whether `url` is required (GET) or refused (POST). */
export function parseQuery(query: URLSearchParams, method: "GET" | "POST"): ParsedQuery {
  const seen = new Map<string, string>();
  for (const [name, value] of query) {
    if (!(ALLOWED_PARAMS as readonly string[]).includes(name)) {
      throw bad(`unknown parameter "${truncate(name)}"; allowed: ${ALLOWED_PARAMS.join(", ")}`);
    }
    if (seen.has(name)) throw bad(`parameter "${name}" is given more than once; give it once`);
    seen.set(name, value);
  }
  const get = (n: string): string | undefined => seen.get(n);

  const params: EnhanceParams = {
    fit: oneOf("fit", get("fit"), ["scale-down", "contain", "cover"] as const) ?? PARAM_DEFAULTS.fit,
    format: oneOf("format", get("format"), FORMATS) ?? PARAM_DEFAULTS.format,
    strength: unitOrAuto("strength", get("strength")) ?? PARAM_DEFAULTS.strength,
    denoise: unitOrAuto("denoise", get("denoise")) ?? PARAM_DEFAULTS.denoise,
    mode: oneOf("mode", get("mode"), ["fast", "full"] as const) ?? PARAM_DEFAULTS.mode,
    orient: (oneOf("orient", get("orient"), ["true", "false"] as const) ?? "true") === "true",
  };
  const q = integer("q", get("q"), 1, 100);
  if (q !== undefined) params.quality = q;
  const w = integer("w", get("w"), 1, MAX_DIMENSION);
  const h = integer("h", get("h"), 1, MAX_DIMENSION);
  const dpr = decimal("dpr", get("dpr"), 1, MAX_DPR) ?? 1;
  // Applied here so w=200&dpr=2 and w=400 are one computation and one cache entry.
  if (w !== undefined) params.width = Math.round(w * dpr);
  if (h !== undefined) params.height = Math.round(h * dpr);

  const url = get("url");
  if (method === "GET") {
    if (url === undefined || url === "") throw bad("url is required: GET /enhance?url=<http(s) URL of the image>");
    params.url = url;
  } else if (url !== undefined) {
    throw bad("url is only for GET; POST sends the image as the request body");
  }

  const sig = get("sig") ?? null;
  seen.delete("sig");
  return { params, sig, signingPayload: signingPayload(seen) };
}

/**
 * The string a signature covers: every parameter except `sig`, sorted by name (code-unit order),
 * each written as encodeURIComponent(name) + "=" + encodeURIComponent(value), joined with "&".
 * A client that builds its query that way can sign exactly the query it sends.
 */
export function signingPayload(params: Map<string, string> | Iterable<[string, string]>): string {
  return [...params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

/**
 * The canonical description of a request's result, for the cache key and ETag: every parameter with
 * its default filled in, the source as the parsed URL (or the body's hash for uploads), and the output
 * format after negotiation ("source" = whatever the source is).
 */
export function canonicalKey(p: EnhanceParams, source: string, outputFormat: ImageFormat | "source"): string {
  // q as it will be applied, so q=85 and no q share an entry for JPEG, and PNG ignores it. "source"
  // always ends as JPEG or PNG, so JPEG's default is the one that applies.
  const quality = outputFormat === "png" ? "lossless" : String(p.quality ?? DEFAULT_QUALITY[outputFormat === "source" ? "jpeg" : outputFormat]);
  const entries: Array<[string, string]> = [
    ["denoise", String(p.denoise)],
    ["fit", p.fit],
    ["format", outputFormat],
    ["mode", p.mode],
    ["orient", String(p.orient)],
    ["q", quality],
    ["source", source],
    ["strength", String(p.strength)],
  ];
  if (p.width !== undefined) entries.push(["w", String(p.width)]);
  if (p.height !== undefined) entries.push(["h", String(p.height)]);
  return signingPayload(entries);
}

function bad(message: string): HttpError {
  return new HttpError(400, "bad_parameter", message);
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw bad(`${name}="${truncate(raw)}" is not allowed; use one of: ${allowed.join(", ")}`);
}

function integer(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^[1-9]\d*$/.test(raw) || n < min || n > max) {
    throw bad(`${name}="${truncate(raw)}" is not allowed; use a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A number from min to max with at most 2 decimals (dpr). */
function decimal(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+(?:\.\d{1,2})?$/.test(raw) || n < min || n > max) {
    throw bad(`${name}="${truncate(raw)}" is not allowed; use a number from ${min} to ${max} with at most 2 decimals`);
  }
  return n;
}

/** `auto` or a number from 0 to 1 with at most 2 decimals (strength, denoise). */
function unitOrAuto(name: string, raw: string | undefined): number | "auto" | undefined {
  if (raw === undefined || raw === "auto") return raw;
  const n = Number(raw);
  if (!/^(?:[01](?:\.\d{1,2})?|\.\d{1,2})$/.test(raw) || n > 1) {
    throw bad(`${name}="${truncate(raw)}" is not allowed; use auto or a number from 0 to 1 with at most 2 decimals`);
  }
  return n;
}
