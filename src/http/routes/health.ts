/** GET /health: the model, the limits, the formats, the isolate's WASM memory and the source rules in force. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { getConfig } from "../../config/config.ts";
import { DEFAULT_QUALITY } from "../../image/encoder-settings.ts";
import { FORMATS } from "../params.ts";
import { ROUTES, serve } from "../openapi.ts";
import type { AppDeps, AppEnv } from "../app-env.ts";

export function healthRoutes(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  serve(app, ROUTES.health, async (c) => {
    const cfg = getConfig(c.env);
    const engine = await deps.getEngine();
    const m = engine.model;
    const { peak, ...wasmMemory } = engine.memory();
    return c.json(
      {
        status: "ok",
        model: { name: m.name, version: m.version, sha256: m.sha256, arch: m.arch, variant: m.variant, estimationSize: m.estimationSize },
        limits: cfg.limits,
        formats: {
          // GIF: its first frame; SVG: passed through unchanged (docs/api.md).
          inputs: ["png", "jpeg", "webp", "avif", "heic", "gif", "svg"],
          outputs: FORMATS,
          auto: "avif if Accept lists image/avif, else webp if it lists image/webp, else the source's format (jpeg/png), else jpeg (png with alpha)",
          // Above this output size AVIF is too costly: format=auto serves WebP, format=avif is a 422.
          avifMaxPixels: cfg.limits.maxAvifPixels,
          defaultQuality: DEFAULT_QUALITY,
        },
        // Bytes of this isolate's WASM memories now (ORT persists; codecs exist only during a job) and
        // the largest each per-job codec has needed: the isolate's budget at a glance.
        wasmMemory: { ...wasmMemory, peak },
        sources: { allowPrivate: cfg.allowPrivate, allowList: cfg.allowList.length > 0, signedUrls: cfg.signingKey !== null },
      },
      200,
      { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" },
    );
  });
  return app;
}
