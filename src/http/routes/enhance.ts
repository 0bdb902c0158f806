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
import { getConfig, type Config } from "../../config/config.ts";
import { sha256Hex } from "../../shared/hash.ts";
import type { PipelineOptions, PipelineResult } from "../../engine/options.ts";
import { HttpError } from "../../shared/errors.ts";
import { etagFor, ifNoneMatchHits } from "../cache.ts";
import { freshness, type Freshness } from "../freshness.ts";
import { derivedCache } from "../cached-lookup.ts";
import { negotiateFormat, type NegotiatedFormat } from "../negotiate.ts";
import { allowedSize, canonicalKey, parseQuery, type EnhanceParams } from "../params.ts";
import { imageResponse, SECURITY_HEADERS, svgResponse, validatorHeaders } from "../responses.ts";
import { isSvg } from "../../image/svg.ts";
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
    if (params.onError === "redirect" && cfg.allowList.length === 0 && cfg.signingKey === null) {
      throw new HttpError(
        400,
        "bad_parameter",
        "onerror=redirect needs ALLOWED_SOURCES or SIGNING_KEY to be set: without either it would redirect to any URL (an open redirector)",
        "onerror",
      );
    }
    const facts = c.get("facts");
    facts.sourceHost = source.hostname;
    const negotiated = negotiate(params, c.req.header("Accept"));
    const ifNoneMatch = c.req.header("If-None-Match") ?? null;

    const engine = await deps.getEngine();
    const canonical = canonicalKey(params, source.href, negotiated);
    const vary = params.format === "auto";
    const stores = await derivedCache({
      origin: reqUrl.origin,
      canonical,
      modelSha256: engine.model.sha256,
      bucket: c.env?.DERIVED,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
    });
    const hit = await stores.find();
    if (hit !== null) {
      facts.cache = hit.layer;
      const etag = hit.response.headers.get("ETag");
      if (etag !== null && ifNoneMatchHits(ifNoneMatch, etag)) {
        facts.cache = "304";
        return new Response(null, { status: 304, headers: validatorHeaders(etag, hit.response.headers.get("Cache-Control") ?? "no-store", vary) });
      }
      return hit.response;
    }
    // A miss answered to HEAD fetches nothing, so it cannot know the result's ETag (it depends on the
    // source's bytes), and it is not cacheable itself.
    if (c.req.method === "HEAD") {
      facts.cache = "head-miss";
      const h = new Headers({ "Cache-Control": "no-store", ...SECURITY_HEADERS, "X-Enhance-Cache": "miss" });
      if (vary) h.set("Vary", "Accept");
      return new Response(null, { status: 200, headers: h });
    }
    facts.cache = "none";
    let computed: { result: PipelineResult | Uint8Array<ArrayBuffer>; etag: string; fresh: Freshness };
    try {
      computed = await leased(cfg, async (lease) => {
        const fetched = await fetchSource(source.href, {
          maxBytes: cfg.limits.maxSourceBytes,
          timeoutMs: cfg.limits.fetchTimeoutMs,
          maxRedirects: cfg.limits.maxRedirects,
          check: (u) => checkSourceUrl(u, rules),
          lease,
        });
        facts.inBytes = fetched.bytes.length;
        // The ETag follows the source's bytes: a photo replaced at the same URL gets a new one.
        const etag = await etagFor(`${canonical}\nsource-sha256=${await sha256Hex(fetched.bytes)}`, engine.model.sha256);
        const fresh = freshness(fetched.headers, cfg.cacheTtl);
        if (passThrough(fetched.bytes, params)) return { result: fetched.bytes, etag, fresh };
        return { result: await engine.enhance(fetched.bytes, pipelineOptions(params, negotiated, cfg)), etag, fresh };
      });
    } catch (e) {
      if (params.onError === "redirect" && fallsBack(e)) {
        facts.cache = "redirect";
        return new Response(null, { status: 302, headers: { Location: source.href, "Cache-Control": "no-store", ...SECURITY_HEADERS } });
      }
      throw e;
    }
    const { result, etag, fresh } = computed;
    const svg = result instanceof Uint8Array;
    const response = svg ? svgResponse(result, etag, fresh.cacheControl, vary) : imageResponse(result, etag, fresh.cacheControl, vary, engine);
    // R2 keeps only images it can check by their bytes; an SVG stays in this location's cache.
    if (fresh.shared) stores.store(response, fresh.ttl, svg ? "cache" : "all");
    if (ifNoneMatchHits(ifNoneMatch, etag)) {
      facts.cache = "304";
      return new Response(null, { status: 304, headers: validatorHeaders(etag, fresh.cacheControl, vary) });
    }
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
      if (passThrough(bytes, params)) return { result: bytes, etag };
      return { result: await engine.enhance(bytes, pipelineOptions(params, negotiated, cfg)), etag };
    });
    // Uploads are one client's data: never stored by this service or by shared caches.
    const vary = params.format === "auto";
    return result instanceof Uint8Array ? svgResponse(result, etag, "no-store", vary) : imageResponse(result, etag, "no-store", vary, engine);
  });

  return app;
}

/**
 * Whether the source is an SVG to pass through unchanged (image/svg.ts). Only under format=auto: an
 * explicit raster format cannot be honoured for a drawing this service does not rasterise.
 */
function passThrough(bytes: Uint8Array, params: EnhanceParams): boolean {
  if (!isSvg(bytes)) return false;
  if (params.format !== "auto") {
    throw new HttpError(415, "unsupported_media_type", `the source is an SVG, which is served as it is, not converted: ask with format=auto instead of format=${params.format}`, "format");
  }
  return true;
}

/**
 * Failures where the source itself is the fallback (onerror=redirect): it is missing, not an image,
 * too large or broken, the upstream failed, or this isolate is busy; not a refused or malformed request.
 */
function fallsBack(e: unknown): boolean {
  if (!(e instanceof HttpError)) return true;
  return e.status === 404 || e.status === 413 || e.status === 415 || e.status === 422 || e.status >= 500;
}

async function parseAndVerify(url: URL, method: "GET" | "POST", cfg: Config): Promise<EnhanceParams> {
  const parsed = parseQuery(url.searchParams, method);
  if (cfg.signingKey !== null) await verifySignature(cfg.signingKey, parsed.signingPayload, parsed.sig);
  // Rounded to ALLOWED_WIDTHS before anything is keyed on them: an open deployment has a bounded set of variants.
  const { params } = parsed;
  const width = allowedSize(params.width, cfg.allowedWidths);
  const height = allowedSize(params.height, cfg.allowedWidths);
  return { ...params, ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}) };
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
