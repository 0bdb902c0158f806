/** GET /: what the service is and how to call it; the form works without JavaScript. */

export const HOME_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

export function homePage(origin: string): string {
  const o = escapeHtml(origin);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lowlight-edge: brighten dark photos</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f3f3f3;padding:.1em .3em}pre{padding:.6em;overflow:auto}</style>
</head>
<body>
<h1>lowlight-edge</h1>
<p>Brightens under-exposed photos with a small learned curve model (Zero-DCE), at the edge. PNG, JPEG, WebP and AVIF in and out; <code>format=auto</code> serves AVIF or WebP to browsers that take them.</p>
<h2>Try it</h2>
<form method="post" action="/enhance" enctype="multipart/form-data">
<input type="file" name="file" accept="image/png,image/jpeg,image/webp,image/avif" required>
<button type="submit">Enhance</button>
</form>
<h2>Call it</h2>
<pre>GET  ${o}/enhance?url=https://example.com/dark.jpg&amp;w=800
POST ${o}/enhance?format=png   (body: the image, or multipart/form-data with a "file" field)</pre>
<p>Parameters: <code>w</code>, <code>h</code>, <code>dpr</code> (1-4, multiplies w and h), <code>fit</code> (scale-down | contain | cover),
<code>format</code> (auto | jpeg | png | webp | avif), <code>q</code> (1-100), <code>strength</code> (0-1 or auto; 0 = no enhancement),
<code>denoise</code> (0-1 or auto; 0 = off: smooths the noise brightening lifts),
<code>mode</code> (fast | full), <code>orient</code> (true | false).</p>
<p>Model and limits: <a href="/health">/health</a>.</p>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
