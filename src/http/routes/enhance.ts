/**
 * /enhance: GET (and HEAD) proxies `url`, POST takes an upload. Both parse and verify the query,
 * negotiate the format, hold the source's bytes under the isolate's byte budget while the pipeline
 * runs, and answer with the image; GET also answers from and fills the derived-image stores.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { checkSourceUrl, type SourceRules } from "../../source/address-rules.ts";
import { fetchSource } from "../../source/fetch.ts";
import { ByteBudget, type Lease } from "../../source/byte-budget.ts";
import { verifySignature } from "../../source/signing.ts";
import { getConfig, type Config } from "../../config.ts";
import { sha256Hex } from "../../shared/hash.ts";
import type { PipelineOptions } from "../../engine/options.ts";
import { etagFor, ifNoneMatchHits, IMMUTABLE } from "../cache.ts";
import { derivedCache } from "../cached-lookup.ts";
import { negotiateFormat, type NegotiatedFormat } from "../negotiate.ts";
import { canonicalKey, parseQuery, type EnhanceParams } from "../params.ts";
import { imageResponse, validatorHeaders } from "../responses.ts";
import { ROUTES, serve } from "../openapi.ts";
import { readUpload } from "../upload.ts";
import type { AppDeps, AppEnv } from "../app-env.ts";

export function enhanceRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  // HEAD is answered here too (Hono routes it to GET), without fetching the source or running the model.
  serve(app, ROUTES.enhanceHead);
  serve(app, ROUTES.enhanceGet, async (c) => {
    const cfg = getConfig(c.env);
    const reqUrl = new URL(c.req.url);
    const params = await parseAndVerify(reqUrl, "GET", cfg);
    const rules: SourceRules = { allowPrivate: cfg.allowPrivate, allowList: cfg.allowList, ownHost: reqUrl.host };
    const source = checkSourceUrl(params.url!, rules);
    const facts = c.get("facts");
    facts.sourceHost = source.hostname;
    const negotiated = negotiate(params, c.req.header("Accept"));

    const engine = await deps.getEngine();
    const canonical = canonicalKey(params, source.href, negotiated);
    const etag = await etagFor(canonical, engine.model.sha256);
    const vary = params.format === "auto";
    if (ifNoneMatchHits(c.req.header("If-None-Match") ?? null, etag)) {
      facts.cache = "304";
      return new Response(null, { status: 304, headers: validatorHeaders(etag, IMMUTABLE, vary) });
    }
    const stores = await derivedCache({
      origin: reqUrl.origin,
      canonical,
      modelSha256: engine.model.sha256,
      etag,
      vary,
      bucket: c.env?.DERIVED,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
    });
    const hit = await stores.find();
    if (hit !== null) {
      facts.cache = hit.layer;
      return hit.response;
    }
    // A miss answered to HEAD carries the ETag the result will have, and is not cacheable itself.
    if (c.req.method === "HEAD") {
      facts.cache = "head-miss";
      const h = validatorHeaders(etag, "no-store", vary);
      h.set("X-Enhance-Cache", "miss");
      return new Response(null, { status: 200, headers: h });
    }
    facts.cache = "none";
    const result = await leased(cfg, async (lease) => {
      const { bytes } = await fetchSource(source.href, {
        maxBytes: cfg.limits.maxSourceBytes,
        timeoutMs: cfg.limits.fetchTimeoutMs,
        maxRedirects: cfg.limits.maxRedirects,
        check: (u) => checkSourceUrl(u, rules),
        lease,
      });
      facts.inBytes = bytes.length;
      return engine.enhance(bytes, pipelineOptions(params, negotiated, cfg));
    });
    const response = imageResponse(result, etag, IMMUTABLE, vary, engine);
    stores.store(response);
    return response;
  });

  serve(app, ROUTES.enhancePost, async (c) => {
    const cfg = getConfig(c.env);
    const params = await parseAndVerify(new URL(c.req.url), "POST", cfg);
    const negotiated = negotiate(params, c.req.header("Accept"));
    const engine = await deps.getEngine();
    const { result, etag } = await leased(cfg, async (lease) => {
      const bytes = await readUpload(c.req.raw, cfg.limits.maxSourceBytes, lease);
      c.get("facts").inBytes = bytes.length;
      const canonical = canonicalKey(params, `sha256:${await sha256Hex(bytes)}`, negotiated);
      const etag = await etagFor(canonical, engine.model.sha256);
      return { result: await engine.enhance(bytes, pipelineOptions(params, negotiated, cfg)), etag };
    });
    // Uploads are one client's data: never stored by this service or by shared caches.
    return imageResponse(result, etag, "no-store", params.format === "auto", engine);
  });

  return app;
}

async function parseAndVerify(url: URL, method: "GET" | "POST", cfg: Config): Promise<EnhanceParams> {
  const parsed = parseQuery(url.searchParams, method);
  if (cfg.signingKey !== null) await verifySignature(cfg.signingKey, parsed.signingPayload, parsed.sig);
  return parsed.params;
}

function negotiate(params: EnhanceParams, accept: string | undefined): NegotiatedFormat {
  return params.format === "auto" ? negotiateFormat(accept ?? null) : params.format;
}

function pipelineOptions(p: EnhanceParams, negotiated: NegotiatedFormat, cfg: Config): PipelineOptions {
  return {
    ...(p.width !== undefined ? { width: p.width } : {}),
    ...(p.height !== undefined ? { height: p.height } : {}),
    ...(p.quality !== undefined ? { quality: p.quality } : {}),
    fit: p.fit,
    format: negotiated,
    avifFallback: p.format === "auto",
    strength: p.strength,
    denoise: p.denoise,
    mode: p.mode,
    orient: p.orient,
    limits: cfg.limits,
  };
}

const budgets = new Map<number, ByteBudget>();

/**
 * Run `job` holding a lease on the isolate's one budget of buffered source bytes (one per configured
 * size: tests run several configurations in one isolate), released whatever happens.
 */
async function leased<T>(cfg: Config, job: (lease: Lease) => Promise<T>): Promise<T> {
  const size = cfg.limits.maxBufferedBytes;
  let budget = budgets.get(size);
  if (!budget) budgets.set(size, (budget = new ByteBudget(size)));
  const lease = budget.lease();
  try {
    return await job(lease);
  } finally {
    lease.release();
  }
}
