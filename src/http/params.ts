/**
 * Query parameters of /enhance: one zod schema that both validates the query and generates the
 * OpenAPI document (src/http/openapi.ts), plus the canonical strings used for signing and caching.
 * Anything unknown, repeated or out of range is a 400 naming the parameter and what is allowed.
 *
 * Nothing is clamped or rounded: a value is either accepted exactly or refused. Numbers must be written
 * plainly (no exponent, sign, hex, spaces or leading zeros), so each distinct w/h/q/strength is one
 * computation and cache entry; operators who need to bound that set SIGNING_KEY so only URLs they
 * generated are served.
 */
import { z } from "@hono/zod-openapi";
import { HttpError } from "../shared/errors.ts";
import type { Fit, ImageFormat } from "../shared/image.ts";
import { DEFAULT_QUALITY } from "../image/encoder-settings.ts";
import { MAX_STRENGTH } from "../image/curves.ts";
import type { DenoiseOption } from "../image/noise.ts";

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
  /** Smoothing of the noise the curves lift: 0 = off, 0..1, auto, strong (see src/image/denoise.ts, dct-denoise.ts). */
  denoise: DenoiseOption;
  mode: "fast" | "full";
  orient: boolean;
  /** GET only: on a failure to fetch or enhance the source, redirect to it instead of an error. */
  onError?: "redirect";
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

export const FORMATS = ["auto", "jpeg", "png", "webp", "avif"] as const;
export const FITS = ["scale-down", "contain", "cover"] as const;
export const MODES = ["fast", "full"] as const;

/** dpr: device pixel ratio 1-4, multiplies w and h (as in Cloudflare Images and imgix). */
export const MAX_DPR = 4;

/** What each parameter allows, in words: the second half of every 400 about it. */
const ALLOWED = new Map<string, string>();

/**
 * Registers `schema` as parameter `name`, with its "use ..." phrase and its documentation. Only `url`
 * has an example: /docs' "Try it out" fills in every example, and a user who gives url and w must not
 * also send an h, dpr or q they never chose.
 */
function param<T extends z.ZodType>(name: string, schema: T, allowed: string, description: string, example?: unknown): T {
  ALLOWED.set(name, allowed);
  return schema.openapi({ description: `${description} Allowed: ${allowed}.`, ...(example !== undefined ? { example } : {}) });
}

// A query value is text; these are the only spellings of a number that are accepted.
const WHOLE = /^[1-9]\d*$/;
const DECIMAL_2 = /^\d+(?:\.\d{1,2})?$/;
const UNIT_2 = /^(?:[01](?:\.\d{1,2})?|\.\d{1,2})$/;
const STRENGTH_2 = /^(?:[0-2](?:\.\d{1,2})?|\.\d{1,2})$/;

/** Turns text spelled as `pattern` into a number; anything else stays text and fails the number schema. */
const numberIf = (pattern: RegExp) => (v: unknown) => (typeof v === "string" && pattern.test(v) ? Number(v) : v);

const wholeNumber = (min: number, max: number) => z.preprocess(numberIf(WHOLE), z.number().int().min(min).max(max));
/** Hundredths: JSON Schema's multipleOf 0.01 (zod's own multipleOf is exact only for integers). */
const hundredths = (min: number, max: number) =>
  z.number().min(min).max(max).openapi({ multipleOf: 0.01 });
/** "auto" or hundredths from 0 to `max`, spelled as `pattern`. */
const hundredthsOrAuto = (pattern: RegExp, max: number) =>
  z.preprocess(numberIf(pattern), z.union([z.literal("auto"), hundredths(0, max)])).default("auto");
/** strength: past 1 the curves go on towards the strongest brightening one (src/image/curves.ts). */
const strengthOrAuto = () => hundredthsOrAuto(STRENGTH_2, MAX_STRENGTH);

const SHARED = {
  w: param("w", wholeNumber(1, MAX_DIMENSION).optional(), `a whole number from 1 to ${MAX_DIMENSION}`, "Largest output width in CSS pixels (multiplied by dpr)."),
  h: param("h", wholeNumber(1, MAX_DIMENSION).optional(), `a whole number from 1 to ${MAX_DIMENSION}`, "Largest output height in CSS pixels (multiplied by dpr)."),
  dpr: param(
    "dpr",
    z.preprocess(numberIf(DECIMAL_2), hundredths(1, MAX_DPR)).default(1),
    `a number from 1 to ${MAX_DPR} with at most 2 decimals`,
    "Device pixel ratio: multiplies w and h, so w=200&dpr=2 is w=400.",
  ),
  fit: param("fit", z.enum(FITS).default(PARAM_DEFAULTS.fit), `one of: ${FITS.join(", ")}`, "How w and h bound the output: scale-down never enlarges, contain may, cover crops to fill both."),
  format: param(
    "format",
    z.enum(FORMATS).default(PARAM_DEFAULTS.format),
    `one of: ${FORMATS.join(", ")}`,
    "Output format. auto serves AVIF or WebP when Accept lists them (Vary: Accept), else the source's format.",
  ),
  q: param("q", wholeNumber(1, 100).optional(), "a whole number from 1 to 100", "Quality for jpeg, webp and avif (ignored for png); default per format (see /health)."),
  strength: param(
    "strength",
    strengthOrAuto(),
    `auto or a number from 0 to ${MAX_STRENGTH} with at most 2 decimals`,
    `How far to brighten: 0 = not at all, 1 = the model's full curves, 1 to ${MAX_STRENGTH} = past them towards the strongest brightening curve, capped where the content reaches a brightness of 0.7 so that every value stays a photo (the strength applied is in X-Enhance-Strength), auto = chosen from the photo's exposure (reported in X-Enhance-Strength).`,
  ),
  denoise: param(
    "denoise",
    z.preprocess(numberIf(UNIT_2), z.union([z.literal("auto"), z.literal("strong"), hundredths(0, 1)])).default("auto"),
    "auto, strong or a number from 0 to 1 with at most 2 decimals",
    "Smoothing of the noise that brightening lifts: 0 = off; auto follows the lift; strong follows it with a DCT denoiser that removes more noise and JPEG blocking, at several times the cost (docs/api.md).",
  ),
  mode: param("mode", z.enum(MODES).default(PARAM_DEFAULTS.mode), `one of: ${MODES.join(", ")}`, "fast estimates the curves on a small copy (Zero-DCE++); full runs the model at output size (small outputs only)."),
  orient: param(
    "orient",
    z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean()).default(PARAM_DEFAULTS.orient),
    "one of: true, false",
    "Apply the EXIF orientation (true) or keep the stored pixel order (false).",
  ),
  sig: param(
    "sig",
    z.string().optional(),
    "URL-safe base64 of HMAC-SHA256 over the other parameters",
    "Signature, required when the operator set SIGNING_KEY (docs/api.md, Signed requests).",
  ),
};

const URL_PARAM = param(
  "url",
  z.string().min(1).openapi({ format: "uri" }),
  "an http(s) URL of the image",
  "Source image to fetch (GET only); private and non-public addresses are refused.",
  "https://example.com/dark.jpg",
);

const ONERROR_PARAM = param(
  "onerror",
  z.enum(["redirect"]).optional(),
  "redirect",
  "When the source cannot be fetched or enhanced (missing, not an image, over a limit), answer 302 to the source URL itself, so an <img> still shows the original (GET only). Only for sources ALLOWED_SOURCES admits or for signed requests: otherwise it would be an open redirector.",
);

/** GET /enhance's query (url required) and POST's (the image is the body). */
export const GET_QUERY = z.strictObject({ url: URL_PARAM, ...SHARED, onerror: ONERROR_PARAM });
export const POST_QUERY = z.strictObject(SHARED);

export const ALLOWED_PARAMS = Object.keys(GET_QUERY.shape) as ReadonlyArray<keyof typeof GET_QUERY.shape>;

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
      throw bad(`unknown parameter "${truncate(name)}"; allowed: ${ALLOWED_PARAMS.join(", ")}`, truncate(name));
    }
    if (seen.has(name)) throw bad(`parameter "${name}" is given more than once; give it once`, name);
    seen.set(name, value);
  }
  if (method === "POST" && seen.has("url")) throw bad("url is only for GET; POST sends the image as the request body", "url");
  if (method === "POST" && seen.has("onerror")) throw bad("onerror is only for GET: an upload has no source URL to fall back to", "onerror");
  if (method === "GET" && !seen.get("url")) throw bad("url is required: GET /enhance?url=<http(s) URL of the image>", "url");

  const parsed = (method === "GET" ? GET_QUERY : POST_QUERY).safeParse(Object.fromEntries(seen));
  if (!parsed.success) {
    const name = String(parsed.error.issues[0]?.path[0] ?? "");
    throw bad(`${name}="${truncate(seen.get(name) ?? "")}" is not allowed; use ${ALLOWED.get(name) ?? "a documented value"}`, name);
  }
  const v = parsed.data;
  const params: EnhanceParams = {
    fit: v.fit,
    format: v.format,
    strength: v.strength,
    denoise: v.denoise,
    mode: v.mode,
    orient: v.orient,
  };
  if (v.q !== undefined) params.quality = v.q;
  // Applied here so w=200&dpr=2 and w=400 are one computation and one cache entry.
  if (v.w !== undefined) params.width = Math.round(v.w * v.dpr);
  if (v.h !== undefined) params.height = Math.round(v.h * v.dpr);
  if (method === "GET") params.url = seen.get("url")!;
  if (seen.get("onerror") === "redirect") params.onError = "redirect";

  const sig = v.sig ?? null;
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

function bad(message: string, param: string): HttpError {
  return new HttpError(400, "bad_parameter", message, param);
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/**
 * A requested size rounded to an allow-list (ALLOWED_WIDTHS): up to the next allowed size, or down to
 * the largest when it is over them all; unchanged when the list is empty.
 */
export function allowedSize(size: number | undefined, allowed: readonly number[]): number | undefined {
  if (size === undefined || allowed.length === 0) return size;
  return allowed.find((w) => w >= size) ?? allowed[allowed.length - 1];
}
