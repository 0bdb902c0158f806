/**
 * One structured JSON log line per request (Workers Logs / `wrangler tail` index the fields): route,
 * status, source host, sizes, format, model, stage timings, which cache layer answered. Never the full
 * URL or query: signed URLs carry their signature, and sources may carry tokens in their paths.
 */
import type { MiddlewareHandler } from "hono";

/** What the handlers learn about a request, for its log line. */
export interface RequestFacts {
  sourceHost?: string;
  inBytes?: number;
  /** "cache" (Workers Cache API), "r2" (derived store), "304" (If-None-Match), "none" (computed), "head-miss", "redirect" (onerror). */
  cache?: string;
  rateLimited?: boolean;
}

export type LogVars = { Variables: { facts: RequestFacts } };

/** Stage timings from a Server-Timing header value. */
function stages(header: string | null): Record<string, number> | undefined {
  if (!header) return undefined;
  const out: Record<string, number> = {};
  for (const part of header.split(",")) {
    const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function requestLog(): MiddlewareHandler<LogVars> {
  return async (c, next) => {
    const facts: RequestFacts = {};
    c.set("facts", facts);
    const t0 = Date.now();
    await next();
    const res = c.res;
    const line = {
      msg: "request",
      method: c.req.method,
      route: c.req.routePath,
      path: new URL(c.req.url).pathname,
      status: res.status,
      sourceHost: facts.sourceHost,
      inBytes: facts.inBytes,
      outBytes: Number(res.headers.get("Content-Length") ?? 0) || undefined,
      format: res.headers.get("Content-Type") ?? undefined,
      size: res.headers.get("X-Enhance-Size") ?? undefined,
      strength: res.headers.get("X-Enhance-Strength") ?? undefined,
      model: res.headers.get("X-Enhance-Model") ?? undefined,
      cache: facts.cache,
      rateLimited: facts.rateLimited,
      stages: stages(res.headers.get("Server-Timing")),
      // Wall time as the isolate sees it (in production the clock stands still during CPU work).
      ms: Date.now() - t0,
    };
    console.log(JSON.stringify(line));
  };
}
