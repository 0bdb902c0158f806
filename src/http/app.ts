/**
 * The HTTP surface: the middleware, the route groups (routes/), the 405s derived from the routes
 * themselves, and the one error mapping. The engine (model + codecs) is injected so this file stays
 * independent of how WASM is loaded.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HttpError } from "../shared/errors.ts";
import { requestLog } from "./request-log.ts";
import { rateLimit } from "./rate-limit.ts";
import { errorResponse } from "./responses.ts";
import { enhanceRoutes } from "./routes/enhance.ts";
import { healthRoutes } from "./routes/health.ts";
import { pageRoutes } from "./routes/pages.ts";
import type { AppDeps, AppEnv } from "./app-env.ts";

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use("*", requestLog());
  app.use("/enhance", rateLimit());
  app.route("/", enhanceRoutes(deps));
  app.route("/", healthRoutes(deps));
  app.route("/", pageRoutes(() => app));
  answerOtherMethods(app);
  app.notFound((c) => errorResponse(new HttpError(404, "not_found", `no route ${new URL(c.req.url).pathname}; see / for the API`)));
  app.onError((err) => errorResponse(err));
  return app;
}

const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** A 405 naming the allowed methods for every path the routes above serve (GET implies HEAD). */
function answerOtherMethods(app: OpenAPIHono<AppEnv>): void {
  const allowed = new Map<string, Set<string>>();
  for (const { method, path } of app.routes) {
    if (method === "ALL") continue; // middleware
    const methods = allowed.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === "GET") methods.add("HEAD");
    allowed.set(path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = METHOD_ORDER.filter((m) => methods.has(m)).join(", ");
    app.all(path, (c) =>
      errorResponse(new HttpError(405, "method_not_allowed", `${c.req.method} is not allowed on ${new URL(c.req.url).pathname}; use ${allow}`), { Allow: allow }),
    );
  }
}
