/** The browser-facing routes: the demo page, /docs (Swagger UI), the OpenAPI document and their assets. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { getConfig } from "../../config/config.ts";
import { HttpError } from "../../shared/errors.ts";
import { homePage } from "../page/home-page.ts";
import { docsPage } from "../page/docs-page.ts";
import { ASSETS, assetEtag, DEMO_CSP, DOCS_CSP } from "../page/assets.ts";
import { API_INFO, ROUTES, serve } from "../openapi.ts";
import { ifNoneMatchHits } from "../cache.ts";
import { pageHeaders, SECURITY_HEADERS } from "../responses.ts";
import type { AppEnv } from "../app-env.ts";

/** `api`: the app whose document /openapi.json serves (every route of the service). */
export function pageRoutes(api: () => OpenAPIHono<AppEnv>): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();

  serve(app, ROUTES.home, (c) => {
    getConfig(c.env); // a misconfigured service says so on its front page
    return c.html(homePage(new URL(c.req.url).origin), 200, pageHeaders(DEMO_CSP));
  });

  serve(app, ROUTES.docs, (c) => c.html(docsPage(), 200, pageHeaders(DOCS_CSP)));

  let openapi: string | undefined;
  serve(app, ROUTES.openapi, (c) => {
    // Generated once per isolate; the server is the origin that answers, so "Try it" hits this one.
    openapi ??= JSON.stringify(api().getOpenAPI31Document({ ...API_INFO, servers: [{ url: "/" }] }));
    return c.body(openapi, 200, {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "public, max-age=300",
      "Access-Control-Allow-Origin": "*",
      ...SECURITY_HEADERS,
    });
  });

  // Not in the document: the pages' own files.
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

  return app;
}
