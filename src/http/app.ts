/**
 * The HTTP surface: routes, the request flow of /enhance, and the one error mapping.
 * The engine (model + codecs) is injected so this file stays independent of how WASM is loaded.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { checkSourceUrl, type SourceRules } from "../source/address-rules.ts";
import { ConfigError, getConfig, type Config, type Env } from "../config.ts";
import { HttpError } from "../shared/errors.ts";
import { ByteBudget } from "../source/byte-budget.ts";
import { homePage } from "./page/home-page.ts";
import { docsPage } from "./page/docs-page.ts";
import { ASSETS, assetEtag, DEMO_CSP, DOCS_CSP } from "./page/assets.ts";
import { API_INFO, ROUTES } from "./openapi.ts";
import { cacheKey, cacheLookup, cacheStore, etagFor, ifNoneMatchHits, IMMUTABLE, sha256Hex } from "./cache.ts";
import { negotiateFormat, type NegotiatedFormat } from "./negotiate.ts";
import { canonicalKey, FORMATS, parseQuery, type EnhanceParams } from "./params.ts";
import { DEFAULT_QUALITY } from "../image/codecs.ts";
import type { Engine, PipelineResult } from "../engine/pipeline.ts";
import type { ImageFormat } from "../shared/image.ts";
import { verifySignature } from "../source/signing.ts";
import { fetchSource } from "../source/fetch.ts";
import { readUpload } from "./upload.ts";
import { requestLog, type LogVars } from "./request-log.ts";
import { derivedKey, loadDerived, storeDerived } from "./derived-store.ts";
import { rateLimit, RateLimited } from "./rate-limit.ts";

export interface AppDeps {
  /** Memoised per isolate by the provider; called lazily inside requests. */
  getEngine: () => Promise<Engine>;
}

type AppEnv = { Bindings: Env } & LogVars;

const SECURITY_HEADERS = { "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'" };
const CONTENT_TYPES: Record<ImageFormat, string> = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp", avif: "image/avif" };
const EXTENSIONS: Record<ImageFormat, string> = { png: "png", jpeg: "jpg", webp: "webp", avif: "avif" };

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  // The document lists the routes below; their handlers validate with the same schemas (params.ts).
  for (const route of Object.values(ROUTES)) app.openAPIRegistry.registerPath(route);
  app.use("*", requestLog());
  app.use("/enhance", async (c, next) => {
    await rateLimit(c.env, c.req.raw, c.get("facts"));
    await next();
  });

  app.get("/", (c) => {
    getConfig(c.env);
    return c.html(homePage(new URL(c.req.url).origin), 200, pageHeaders(DEMO_CSP));
  });

  app.get("/docs", (c) => c.html(docsPage(), 200, pageHeaders(DOCS_CSP)));

  let openapi: string | undefined;
  app.get("/openapi.json", (c) => {
    // Generated once per isolate; the server is the origin that answers, so "Try it" hits this one.
    openapi ??= JSON.stringify(app.getOpenAPI31Document({ ...API_INFO, servers: [{ url: "/" }] }));
    return c.body(openapi, 200, {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "public, max-age=300",
      "Access-Control-Allow-Origin": "*",
      ...SECURITY_HEADERS,
    });
  });

  app.get("/assets/:name", async (c) => {
    const path = new URL(c.req.url).pathname;
    const asset = ASSETS[path];
    if (!asset) throw new HttpError(404, "not_found", `no asset ${path}; assets are ${Object.keys(ASSETS).join(", ")}`);
    const etag = await assetEtag(path, asset);
    // Revalidated after a short while: the names carry no hash, so a deploy must show up soon.
    const headers = { ETag: etag, "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff" };
    if (ifNoneMatchHits(c.req.header("If-None-Match") ?? null, etag)) return new Response(null, { status: 304, headers });
    return c.body(asset.body, 200, { ...headers, "Content-Type": asset.contentType });
  });

  app.get("/health", async (c) => {
    const cfg = getConfig(c.env);
    const engine = await deps.getEngine();
    const m = engine.model;
    const { peak, ...wasmMemory } = engine.memory();
    return c.json(
      {
        status: "ok",
        model: {
          name: m.name,
          version: m.version,
          sha256: m.sha256,
          arch: m.arch,
          variant: m.variant,
          estimationSize: m.estimationSize,
        },
        limits: cfg.limits,
        formats: {
          inputs: ["png", "jpeg", "webp", "avif"],
          outputs: FORMATS,
          auto: "avif if Accept lists image/avif, else webp if it lists image/webp, else the source's format (jpeg/png), else jpeg (png with alpha)",
          // Above this output size AVIF is too costly: format=auto serves WebP, format=avif is a 422.
          avifMaxPixels: cfg.limits.maxAvifPixels,
          defaultQuality: DEFAULT_QUALITY,
        },
        // Bytes of this isolate's WASM memories now (ORT persists; codecs exist only during a job) and
        // the largest each per-job codec has needed: the isolate's budget at a glance.
        wasmMemory: { ...wasmMemory, peak },
        sources: {
          allowPrivate: cfg.allowPrivate,
          allowList: cfg.allowList.length > 0,
          signedUrls: cfg.signingKey !== null,
        },
      },
      200,
      { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" },
    );
  });

  app.get("/enhance", async (c) => {
    const cfg = getConfig(c.env);
    const reqUrl = new URL(c.req.url);
    const { params } = await parseAndVerify(reqUrl, "GET", cfg);
    const rules: SourceRules = { allowPrivate: cfg.allowPrivate, allowList: cfg.allowList, ownHost: reqUrl.host };
    const source = checkSourceUrl(params.url!, rules);
    const facts = c.get("facts");
    facts.sourceHost = source.hostname;
    const negotiated = params.format === "auto" ? negotiateFormat(c.req.header("Accept") ?? null) : params.format;

    const engine = await deps.getEngine();
    const canonical = canonicalKey(params, source.href, negotiated);
    const etag = await etagFor(canonical, engine.model.sha256);
    const vary = params.format === "auto";
    if (ifNoneMatchHits(c.req.header("If-None-Match") ?? null, etag)) {
      facts.cache = "304";
      return new Response(null, { status: 304, headers: validatorHeaders(etag, IMMUTABLE, vary) });
    }
    const key = cacheKey(reqUrl.origin, canonical, engine.model.sha256);
    const hit = await cacheLookup(key);
    if (hit !== null) {
      facts.cache = "cache";
      return hit;
    }
    const bucket = c.env?.DERIVED;
    const r2Key = bucket ? await derivedKey(canonical, engine.model.sha256) : "";
    if (bucket) {
      const stored = await loadDerived(bucket, r2Key, engine.model.sha256);
      if (stored !== null) {
        facts.cache = "r2";
        const h = new Headers({ ...stored.headers, ...SECURITY_HEADERS, "Cache-Control": IMMUTABLE });
        h.set("Content-Type", stored.contentType);
        h.set("Content-Length", String(stored.bytes.byteLength));
        h.set("ETag", etag);
        if (vary) h.set("Vary", "Accept");
        h.set("X-Enhance-Cache", "r2");
        const response = new Response(stored.bytes, { status: 200, headers: h });
        // Back into this location's cache, so the next request here does not read R2 again.
        c.executionCtx.waitUntil(cacheStore(key, response.clone()));
        return response;
      }
    }
    // HEAD never fetches the source or runs the model: a miss says so with the ETag the result
    // will have, and is not cacheable itself.
    if (c.req.method === "HEAD") {
      facts.cache = "head-miss";
      const h = validatorHeaders(etag, "no-store", vary);
      h.set("X-Enhance-Cache", "miss");
      return new Response(null, { status: 200, headers: h });
    }
    facts.cache = "none";

    const lease = bufferBudget(cfg).lease();
    let result: PipelineResult;
    try {
      const { bytes } = await fetchSource(source.href, {
        maxBytes: cfg.limits.maxSourceBytes,
        timeoutMs: cfg.limits.fetchTimeoutMs,
        maxRedirects: cfg.limits.maxRedirects,
        check: (u) => checkSourceUrl(u, rules),
        lease,
      });
      facts.inBytes = bytes.length;
      result = await run(engine, bytes, params, negotiated, cfg);
    } finally {
      lease.release();
    }
    const response = imageResponse(result, etag, IMMUTABLE, vary, engine);
    c.executionCtx.waitUntil(cacheStore(key, response.clone()));
    if (bucket) c.executionCtx.waitUntil(storeDerived(bucket, r2Key, engine.model.sha256, response.clone()));
    return response;
  });

  app.post("/enhance", async (c) => {
    const cfg = getConfig(c.env);
    const { params } = await parseAndVerify(new URL(c.req.url), "POST", cfg);
    const engine = await deps.getEngine();
    const lease = bufferBudget(cfg).lease();
    let result: PipelineResult;
    let etag: string;
    try {
      const bytes = await readUpload(c.req.raw, cfg.limits.maxSourceBytes, lease);
      c.get("facts").inBytes = bytes.length;
      const negotiated = params.format === "auto" ? negotiateFormat(c.req.header("Accept") ?? null) : params.format;
      const canonical = canonicalKey(params, `sha256:${await sha256Hex(bytes)}`, negotiated);
      etag = await etagFor(canonical, engine.model.sha256);
      result = await run(engine, bytes, params, negotiated, cfg);
    } finally {
      lease.release();
    }
    // Uploads are one client's data: never stored by this service or by shared caches.
    return imageResponse(result, etag, "no-store", params.format === "auto", engine);
  });

  for (const [path, allow] of [
    ["/enhance", "GET, HEAD, POST"],
    ["/health", "GET, HEAD"],
    ["/", "GET, HEAD"],
    ["/docs", "GET, HEAD"],
    ["/openapi.json", "GET, HEAD"],
    ["/assets/:name", "GET, HEAD"],
  ] as const) {
    app.all(path, (c) =>
      errorResponse(new HttpError(405, "method_not_allowed", `${c.req.method} is not allowed on ${new URL(c.req.url).pathname}; use ${allow}`), {
        Allow: allow,
      }),
    );
  }

  app.notFound((c) => errorResponse(new HttpError(404, "not_found", `no route ${new URL(c.req.url).pathname}; see / for the API`)));
  app.onError((err) => errorResponse(err));
  return app;
}

async function parseAndVerify(url: URL, method: "GET" | "POST", cfg: Config): Promise<{ params: EnhanceParams }> {
  const parsed = parseQuery(url.searchParams, method);
  if (cfg.signingKey !== null) await verifySignature(cfg.signingKey, parsed.signingPayload, parsed.sig);
  return parsed;
}

async function run(
  engine: Engine,
  bytes: Uint8Array,
  p: EnhanceParams,
  negotiated: NegotiatedFormat,
  cfg: Config,
): Promise<PipelineResult> {
  return engine.enhance(bytes, {
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
    limits: {
      maxSourcePixels: cfg.limits.maxSourcePixels,
      maxPngSourcePixels: cfg.limits.maxPngSourcePixels,
      maxOutputPixels: cfg.limits.maxOutputPixels,
      maxFullModePixels: cfg.limits.maxFullModePixels,
      maxAvifPixels: cfg.limits.maxAvifPixels,
      maxAvifSourcePixels: cfg.limits.maxAvifSourcePixels,
      maxWebpSourcePixels: cfg.limits.maxWebpSourcePixels,
    },
  });
}

function pageHeaders(csp: string): Record<string, string> {
  return { "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300" };
}

function validatorHeaders(etag: string, cacheControl: string, vary: boolean): Headers {
  const h = new Headers({ ETag: etag, "Cache-Control": cacheControl, ...SECURITY_HEADERS });
  if (vary) h.set("Vary", "Accept");
  return h;
}

function imageResponse(r: PipelineResult, etag: string, cacheControl: string, vary: boolean, engine: Engine): Response {
  const h = validatorHeaders(etag, cacheControl, vary);
  h.set("Content-Type", CONTENT_TYPES[r.format]);
  h.set("Content-Length", String(r.bytes.byteLength));
  h.set("Content-Disposition", `inline; filename="enhanced.${EXTENSIONS[r.format]}"`);
  h.set("X-Enhance-Strength", String(Math.round(r.strength * 1000) / 1000));
  h.set("X-Enhance-Size", `${r.width}x${r.height}`);
  h.set("X-Enhance-Model", headerSafe(`${engine.model.name}@${engine.model.version}`));
  // Per-stage times for DevTools and the benchmark. Deployed Workers freeze clocks during CPU work, so
  // there they read 0; under wrangler dev / Miniflare they are real.
  const timing = Object.entries(r.timings).map(([stage, ms]) => `${stage};dur=${ms.toFixed(1)}`).join(", ");
  if (timing) h.set("Server-Timing", timing);
  // The pipeline's bytes are a plain ArrayBuffer view (codecs copy out of their WASM heaps).
  return new Response(r.bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: h });
}

function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 100);
}

const budgets = new Map<number, ByteBudget>();

/** The isolate's one budget of buffered source bytes (per configured size: tests run several configs). */
function bufferBudget(cfg: Config): ByteBudget {
  let b = budgets.get(cfg.limits.maxBufferedBytes);
  if (!b) budgets.set(cfg.limits.maxBufferedBytes, (b = new ByteBudget(cfg.limits.maxBufferedBytes)));
  return b;
}

function errorResponse(err: unknown, extraHeaders: Record<string, string> = {}): Response {
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
