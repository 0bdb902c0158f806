/**
 * The API contract: every route with its parameters, bodies, responses and headers, as @hono/zod-openapi
 * route definitions. The query schemas are the ones parseQuery validates with (params.ts), so the
 * document served at /openapi.json cannot drift from what the Worker accepts.
 */
import { createRoute, z, type OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { Handler } from "hono";
import type { AppEnv } from "./app-env.ts";
import { ERROR_CODES } from "../shared/errors.ts";
import { DEFAULT_QUALITY } from "../image/encoder-settings.ts";
import { FORMATS, GET_QUERY, POST_QUERY } from "./params.ts";

export const API_INFO = {
  openapi: "3.1.0",
  info: {
    title: "lowlight-edge",
    version: "1",
    description:
      "Brightens under-exposed photos with a learned curve model (Zero-DCE). GET /enhance is an image proxy (url=), POST /enhance takes an upload; both resize, convert and cache. Every error is JSON with a code, a message and, for a bad parameter, the parameter's name. Query numbers are written plainly: integers as digits (no sign, exponent or leading zeros), other numbers as decimals with no more places than their multipleOf (0.01: two); a value is accepted exactly or refused, never clamped.",
    license: { name: "MIT" },
  },
} as const;

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).openapi({ description: "Stable machine-readable cause." }),
      message: z.string().openapi({ description: "What was wrong and what is allowed.", example: 'w="0" is not allowed; use a whole number from 1 to 8192' }),
      param: z
        .string()
        .optional()
        .openapi({ description: "The query parameter at fault or the one that would fix it: every bad_parameter, and too_many_pixels for the output size (w), mode=full (mode) and AVIF output (format).", example: "w" }),
    }),
  })
  .openapi("Error");

const json = { "application/json": { schema: ErrorSchema } };
const error = (description: string) => ({ description, content: json });

/** The errors /enhance can answer, by status, with the codes each carries. */
const ENHANCE_ERRORS = {
  400: error("bad_parameter: an unknown, repeated or out-of-range parameter, a missing url, an empty or malformed body."),
  403: error("source_not_allowed: the url is not public http(s) or not on the allow-list. bad_signature: sig missing or wrong when signing is on."),
  413: error("too_large: the source or body is over MAX_SOURCE_BYTES."),
  415: error("unsupported_media_type: the body's Content-Type, or the source's bytes, are not PNG, JPEG, WebP or AVIF."),
  422: error("undecodable: the image is truncated or corrupt. too_many_pixels: the source or the requested output is over a pixel limit (see /health)."),
  429: error("rate_limited: too many requests from this client; see Retry-After."),
  502: error("upstream_error: the source answered with an error, a redirect loop or too many redirects."),
  503: error("busy: this isolate is at its memory budget; retry after Retry-After."),
  504: error("upstream_timeout: the source did not answer in time."),
} as const;

const header = (description: string, example?: string) => ({ description, schema: { type: "string" as const, ...(example ? { example } : {}) } });

const IMAGE_HEADERS = {
  ETag: header("Strong validator of the result: the canonical parameters, the source's bytes (or the upload's) and the model's sha256."),
  "Cache-Control": header(
    "GET: the source's own freshness (s-maxage, max-age or Expires) within CACHE_TTL_MIN..CACHE_TTL_MAX, or public, max-age=CACHE_TTL, immutable when it states none; private or no-store when the source is. no-store for uploads and for misses answered to HEAD.",
  ),
  Vary: header("Accept, when format=auto (the format depends on it)."),
  "Content-Disposition": header('inline, with a file name such as enhanced.webp.', 'inline; filename="enhanced.webp"'),
  "X-Enhance-Strength": header("The strength applied, 0-2 (what auto chose; above 1 auto lifted a night the model's curves left too dark).", "0.74"),
  "X-Enhance-Size": header("Output width x height in pixels.", "800x600"),
  "X-Enhance-Passthrough": header(
    "svg when the source was an SVG: served unchanged (format=auto only), with Content-Security-Policy sandbox so its scripts cannot run.",
    "svg",
  ),
  "X-Enhance-Scaled-From": header(
    "Present when no w or h was given and the photo was larger than MAX_OUTPUT_PIXELS: its own size; it was served at the largest size the limit allows, aspect kept.",
    "4032x3024",
  ),
  "X-Enhance-Model": header("Model name@version that made the result.", "lowlight-lite@0.2.0"),
  "X-Enhance-Cache": header("r2 when the result came from the persistent store; miss on a HEAD without a stored result."),
  "Server-Timing": header("Per-stage milliseconds (decode, model, curves, encode, ...); 0 in deployed Workers, whose clocks do not move during CPU work.", "decode;dur=12.1, model;dur=2.0"),
} as const;

// An explicit example: without one, /docs would show sample bytes generated from the media type.
const imageContent = Object.fromEntries(
  (["image/jpeg", "image/png", "image/webp", "image/avif", "image/svg+xml"] as const).map((t) => [
    t,
    { schema: { type: "string" as const, contentMediaType: t }, example: t === "image/svg+xml" ? "(an SVG source, passed through unchanged)" : `(the enhanced image, ${t})` },
  ]),
);

const enhanced = { description: "The enhanced image.", headers: IMAGE_HEADERS, content: imageContent };

export const ROUTES = {
  enhanceGet: createRoute({
    method: "get",
    path: "/enhance",
    tags: ["enhance"],
    summary: "Enhance an image fetched from a URL (image proxy)",
    request: { query: GET_QUERY },
    responses: {
      200: enhanced,
      302: {
        description: "onerror=redirect and the source could not be fetched or enhanced: Location is the source URL itself.",
        headers: { Location: header("The source URL.", "https://example.com/dark.jpg") },
      },
      304: { description: "Not modified: If-None-Match named the result's ETag.", headers: { ETag: IMAGE_HEADERS.ETag } },
      ...ENHANCE_ERRORS,
      404: error("source_not_found: the source answered 404 or 410."),
    },
  }),
  enhanceHead: createRoute({
    method: "head",
    path: "/enhance",
    tags: ["enhance"],
    summary: "The result's headers without fetching the source or running the model on a miss",
    request: { query: GET_QUERY },
    responses: {
      200: { description: "Headers of the stored result, or X-Enhance-Cache: miss (no ETag: it depends on the source's bytes, which HEAD never fetches).", headers: IMAGE_HEADERS },
      304: { description: "Not modified.", headers: { ETag: IMAGE_HEADERS.ETag } },
      400: ENHANCE_ERRORS[400],
      403: ENHANCE_ERRORS[403],
      429: ENHANCE_ERRORS[429],
    },
  }),
  enhancePost: createRoute({
    method: "post",
    path: "/enhance",
    tags: ["enhance"],
    summary: "Enhance an uploaded image",
    description: "The body is the image itself or an HTML form's multipart/form-data with a file field. Uploads are never stored (Cache-Control: no-store).",
    request: {
      query: POST_QUERY,
      body: {
        required: true,
        content: {
          ...Object.fromEntries(
            (["image/jpeg", "image/png", "image/webp", "image/avif", "image/heic", "application/octet-stream"] as const).map((t) => [
              t,
              { schema: { type: "string" as const, contentMediaType: t } },
            ]),
          ),
          "multipart/form-data": {
            schema: {
              type: "object" as const,
              required: ["file"],
              properties: { file: { type: "string" as const, contentMediaType: "application/octet-stream", description: "The image." } },
            },
          },
        },
      },
    },
    responses: { 200: enhanced, ...ENHANCE_ERRORS },
  }),
  health: createRoute({
    method: "get",
    path: "/health",
    tags: ["service"],
    summary: "Model, limits and formats of this deployment",
    responses: {
      200: {
        description: "The service is up; what it runs and what it accepts.",
        content: {
          "application/json": {
            schema: z
              .object({
                status: z.literal("ok"),
                model: z.object({
                  name: z.string(),
                  version: z.string(),
                  sha256: z.string(),
                  arch: z.string(),
                  variant: z.string(),
                  estimationSize: z.number().int(),
                }),
                limits: z.record(z.string(), z.number()).openapi({ description: "Byte and pixel limits (MAX_* vars)." }),
                formats: z.object({
                  inputs: z.array(z.string()),
                  outputs: z.array(z.enum(FORMATS)),
                  auto: z.string(),
                  avifMaxPixels: z.number().int(),
                  defaultQuality: z.object(Object.fromEntries(Object.keys(DEFAULT_QUALITY).map((k) => [k, z.number().int()]))),
                }),
                wasmMemory: z.record(z.string(), z.unknown()).openapi({ description: "Bytes of this isolate's WebAssembly memories." }),
                sources: z.object({ allowPrivate: z.boolean(), allowList: z.boolean(), signedUrls: z.boolean() }),
              })
              .openapi("Health"),
          },
        },
      },
      500: error("internal: the service is misconfigured."),
    },
  }),
  home: createRoute({
    method: "get",
    path: "/",
    tags: ["service"],
    summary: "The demo page: upload or link a photo, compare before and after",
    responses: { 200: { description: "HTML.", content: { "text/html": { schema: { type: "string" as const } } } } },
  }),
  docs: createRoute({
    method: "get",
    path: "/docs",
    tags: ["service"],
    summary: "This document, rendered (Swagger UI, served by the Worker)",
    responses: { 200: { description: "HTML.", content: { "text/html": { schema: { type: "string" as const } } } } },
  }),
  openapi: createRoute({
    method: "get",
    path: "/openapi.json",
    tags: ["service"],
    summary: "This OpenAPI 3.1 document",
    responses: { 200: { description: "The document.", content: { "application/json": { schema: { type: "object" as const } } } } },
  }),
} satisfies Record<string, RouteConfig>;

/**
 * Serve a documented route: its OpenAPI entry and its handler come from the one definition above.
 * Hono answers HEAD with the GET handler, so a HEAD route has an entry and no handler of its own.
 */
export function serve(app: OpenAPIHono<AppEnv>, route: RouteConfig, handler?: Handler<AppEnv>): void {
  app.openAPIRegistry.registerPath(route);
  if (handler) app.on(route.method.toUpperCase(), route.path, handler);
}
