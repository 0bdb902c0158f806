/**
 * Optional abuse limit on /enhance: Workers' rate-limiting binding (RATE_LIMITER), keyed by the client
 * IP (CF-Connecting-IP). Off unless the binding is configured. When the limiter itself fails (throws),
 * the request goes through and the failure is logged: failing open keeps the service up when the
 * limiter is, and the pixel limits, the isolate's byte budget and [limits] cpu_ms still bound each
 * request; an operator who prefers to fail closed sets RATE_LIMIT_FAIL=closed.
 */
import { HttpError } from "../shared/errors.ts";
import type { Env } from "../config.ts";
import type { RequestFacts } from "./request-log.ts";

export class RateLimited extends HttpError {
  constructor(readonly retryAfter: number) {
    super(429, "rate_limited", `too many requests from this client; retry after ${retryAfter} s`);
  }
}

export async function rateLimit(env: Env | undefined, req: Request, facts: RequestFacts): Promise<void> {
  const limiter = env?.RATE_LIMITER;
  if (limiter === undefined) return;
  const period = Number(env?.RATE_LIMIT_PERIOD ?? 60) || 60;
  const key = req.headers.get("CF-Connecting-IP") ?? "unknown";
  let success: boolean;
  try {
    ({ success } = await limiter.limit({ key }));
  } catch (e) {
    console.warn(JSON.stringify({ msg: "rate limiter failed", error: String(e), failOpen: env?.RATE_LIMIT_FAIL !== "closed" }));
    if (env?.RATE_LIMIT_FAIL === "closed") throw new HttpError(503, "busy", "the rate limiter is unavailable; retry shortly");
    return;
  }
  if (!success) {
    facts.rateLimited = true;
    throw new RateLimited(period);
  }
}
