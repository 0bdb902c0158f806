/**
 * The browser files of the demo page and /docs, bundled into the Worker as text (wrangler.toml's Text
 * rule) and served from its own origin, so the pages' Content-Security-Policy can be 'self' only.
 */
import demoJs from "./demo.client.js";
import demoCompareJs from "./demo-compare.client.js";
import demoServiceJs from "./demo-service.client.js";
import demoCss from "./demo.css";
import docsJs from "./docs.client.js";
import swaggerJs from "swagger-ui-dist/swagger-ui-bundle.js";
import swaggerCss from "swagger-ui-dist/swagger-ui.css";
import { sha256Hex } from "../../shared/hash.ts";

export interface Asset {
  body: string;
  contentType: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

export const ASSETS: Readonly<Record<string, Asset>> = {
  "/assets/demo.js": { body: demoJs, contentType: JS },
  // Modules demo.js imports, under the names it imports them by.
  "/assets/demo-compare.client.js": { body: demoCompareJs, contentType: JS },
  "/assets/demo-service.client.js": { body: demoServiceJs, contentType: JS },
  "/assets/demo.css": { body: demoCss, contentType: CSS },
  "/assets/docs.js": { body: docsJs, contentType: JS },
  "/assets/swagger-ui-bundle.js": { body: swaggerJs, contentType: JS },
  "/assets/swagger-ui.css": { body: swaggerCss, contentType: CSS },
};

const etags = new Map<string, Promise<string>>();

/** A strong ETag per asset, hashed once per isolate (assets change only with a deploy). */
export function assetEtag(path: string, asset: Asset): Promise<string> {
  let e = etags.get(path);
  if (!e) {
    e = sha256Hex(asset.body).then((hex) => `"${hex.slice(0, 24)}"`);
    etags.set(path, e);
  }
  return e;
}

/** The demo page's policy: its own script and styles, images from itself or the page's blobs. */
export const DEMO_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * /docs: Swagger UI sets element styles from script (allowed by 'self' through CSSOM) but also writes
 * a few style attributes, its stylesheet embeds data: SVG icons, and "Try it out" shows an image
 * answer through a blob: URL; everything else is 'self'.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");
