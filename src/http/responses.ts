/** How every answer of the API is shaped: the security headers, image responses, and the one error mapping. */
import { ConfigError } from "../config/config.ts";
import { HttpError } from "../shared/errors.ts";
import { EXTENSIONS, MIME_TYPES } from "../shared/image.ts";
import type { Engine } from "../engine/engine.ts";
import type { PipelineResult } from "../engine/options.ts";
import { RateLimited } from "./rate-limit.ts";

export const SECURITY_HEADERS = { "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'" };

export function pageHeaders(csp: string): Record<string, string> {
  return { "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300" };
}

/** Headers of a result and of its 304s and HEAD misses: validator, caching, security, Vary. */
export function validatorHeaders(etag: string, cacheControl: string, vary: boolean): Headers {
  const h = new Headers({ ETag: etag, "Cache-Control": cacheControl, ...SECURITY_HEADERS });
  if (vary) h.set("Vary", "Accept");
  return h;
}

export function imageResponse(r: PipelineResult, etag: string, cacheControl: string, vary: boolean, engine: Engine): Response {
  const h = validatorHeaders(etag, cacheControl, vary);
  h.set("Content-Type", MIME_TYPES[r.format]);
  h.set("Content-Length", String(r.bytes.byteLength));
  h.set("Content-Disposition", `inline; filename="enhanced.${EXTENSIONS[r.format]}"`);
  h.set("X-Enhance-Strength", String(Math.round(r.strength * 1000) / 1000));
  h.set("X-Enhance-Size", `${r.width}x${r.height}`);
  if (r.scaledFrom) h.set("X-Enhance-Scaled-From", `${r.scaledFrom.width}x${r.scaledFrom.height}`);
  h.set("X-Enhance-Model", headerSafe(`${engine.model.name}@${engine.model.version}`));
  // Per-stage times for DevTools and the benchmark (deployed Workers freeze clocks during CPU work: 0 there).
  const timing = Object.entries(r.timings).map(([stage, ms]) => `${stage};dur=${ms.toFixed(1)}`).join(", ");
  if (timing) h.set("Server-Timing", timing);
  return new Response(r.bytes, { status: 200, headers: h });
}

/**
 * An SVG source, passed through (image/svg.ts): a policy under which it can run no script and load
 * nothing but its own inline styles and data: images, sandboxed when opened directly.
 */
export const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

export function svgResponse(bytes: Uint8Array<ArrayBuffer>, etag: string, cacheControl: string, vary: boolean): Response {
  const h = validatorHeaders(etag, cacheControl, vary);
  h.set("Content-Type", "image/svg+xml");
  h.set("Content-Security-Policy", SVG_CSP);
  h.set("Content-Length", String(bytes.byteLength));
  h.set("Content-Disposition", 'inline; filename="image.svg"');
  h.set("X-Enhance-Passthrough", "svg");
  return new Response(bytes, { status: 200, headers: h });
}

function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 100);
}

/** Any error as the API's JSON error: HttpError as it says, ConfigError and the unexpected as 500s. */
export function errorResponse(err: unknown, extraHeaders: Record<string, string> = {}): Response {
  let e: HttpError;
  if (err instanceof HttpError) {
    e = err;
  } else if (err instanceof ConfigError) {
    console.error("configuration error:", err.message);
    e = new HttpError(500, "internal", `the service is misconfigured: ${err.message}`);
  } else {
    console.error("unexpected error:", err);
    e = new HttpError(500, "internal", "internal error");
  }
  const headers = new Headers({ "Cache-Control": "no-store", ...SECURITY_HEADERS, ...extraHeaders });
  if (e.status === 503) headers.set("Retry-After", "1");
  if (e instanceof RateLimited) headers.set("Retry-After", String(e.retryAfter));
  const body = { code: e.code, message: e.message, ...(e.param !== undefined ? { param: e.param } : {}) };
  return Response.json({ error: body }, { status: e.status, headers });
}
