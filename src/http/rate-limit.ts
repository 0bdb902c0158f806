/**
 * Optional abuse limit: Workers' rate-limiting binding (RATE_LIMITER), keyed by the client IP
 * (CF-Connecting-IP), as a middleware for the routes it guards. Off unless the binding exists. A
 * limiter that fails lets the request through and logs it, unless RATE_LIMIT_FAIL=closed (src/config/config.ts).
 */
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../shared/errors.ts";
import { getConfig, type Env } from "../config/config.ts";
import type { LogVars } from "./request-log.ts";

export class RateLimited extends HttpError {
  constructor(readonly retryAfter: number) {
    super(429, "rate_limited", `too many requests from this client; retry after ${retryAfter} s`);
  }
}

export function rateLimit(): MiddlewareHandler<{ Bindings: Env } & LogVars> {
  return async (c, next) => {
    const limiter = c.env?.RATE_LIMITER;
    if (limiter !== undefined) {
      const { periodSeconds, failClosed } = getConfig(c.env).rateLimit;
      const key = c.req.header("CF-Connecting-IP") ?? "unknown";
      let success = true;
      try {
        ({ success } = await limiter.limit({ key }));
      } catch (e) {
        console.warn(JSON.stringify({ msg: "rate limiter failed", error: String(e), failOpen: !failClosed }));
        if (failClosed) throw new HttpError(503, "busy", "the rate limiter is unavailable; retry shortly");
      }
      if (!success) {
        c.get("facts").rateLimited = true;
        throw new RateLimited(periodSeconds);
      }
    }
    await next();
  };
}
