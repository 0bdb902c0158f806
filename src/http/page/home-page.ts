/**
 * GET /: the demo page. Upload, drop, paste or link a photo; compare before and after with a slider or
 * side by side; change the parameters and see what came back. Its script and styles are separate
 * files (assets.ts), so the policy needs no inline code. Without JavaScript the form still posts.
 */
import { FORMATS, MODES } from "../params.ts";
import { MAX_STRENGTH } from "../../image/curves.ts";

export function homePage(origin: string): string {
  const o = escapeHtml(origin);
  const options = (values: readonly string[]) => values.map((v) => `<option value="${v}">${v}</option>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>lowlight-edge: brighten dark photos</title>
<link rel="stylesheet" href="/assets/demo.css">
<script type="module" src="/assets/demo.js"></script>
</head>
<body>
<header>
<h1>lowlight-edge</h1>
<p>Brightens under-exposed photos with a small learned curve model (Zero-DCE), at the edge.
<a href="/docs">API reference</a> · <a href="/openapi.json">OpenAPI</a> · <a href="/health">health</a></p>
</header>
<main>
<section class="source" aria-labelledby="source-h">
<h2 id="source-h">Photo</h2>
<form id="upload" class="drop" method="post" action="/enhance" enctype="multipart/form-data">
<label for="file">Choose a photo</label>
<input type="file" id="file" name="file" accept="image/png,image/jpeg,image/webp,image/avif,image/heic,image/heif,.heic,.heif,image/gif">
<span class="hint">or drop or paste one here (PNG, JPEG, WebP, AVIF)</span>
<noscript><button type="submit">Enhance</button></noscript>
</form>
<form id="url-form" class="url">
<label for="url">or an image URL</label>
<input type="url" id="url" name="url" placeholder="https://example.com/dark.jpg" autocomplete="url">
<button type="submit">Enhance</button>
</form>
<p id="error-source" class="error" role="alert" hidden></p>
</section>

<section class="controls" aria-labelledby="controls-h">
<h2 id="controls-h">Parameters</h2>
<form id="controls">
${autoRange("strength", "Strength", 0.7, MAX_STRENGTH)}
${autoRange("denoise", "Denoise", 0.5, 1, '<label class="auto"><input type="checkbox" id="denoise-strong"> strong</label>')}
<div class="control">
<label for="w">Width (px)</label>
<input type="number" id="w" min="1" max="8192" step="1" inputmode="numeric" placeholder="original">
<p id="error-w" class="error" role="alert" hidden></p>
</div>
<div class="control">
<label for="format">Format</label>
<select id="format">${options(FORMATS)}</select>
<p id="error-format" class="error" role="alert" hidden></p>
</div>
<div class="control">
<label for="mode">Mode</label>
<select id="mode">${options(MODES)}</select>
<p id="error-mode" class="error" role="alert" hidden></p>
</div>
</form>
</section>

<section class="result" aria-labelledby="result-h">
<h2 id="result-h">Before and after</h2>
<fieldset class="views">
<legend>View</legend>
<label><input type="radio" name="view" value="slider" checked> Slider</label>
<label><input type="radio" name="view" value="side"> Side by side</label>
</fieldset>
<div id="frame" class="frame empty">
<p class="placeholder">Choose, drop or paste a dark photo, or give its URL.</p>
<figure class="pane before"><img id="before" alt="Original" draggable="false"><figcaption>Before</figcaption></figure>
<figure class="pane after" id="after-pane"><img id="after" alt="Enhanced" draggable="false"><figcaption>After</figcaption></figure>
<div id="handle" class="handle" role="slider" tabindex="0" aria-label="Split between before and after"
 aria-valuemin="0" aria-valuemax="100" aria-valuenow="50" aria-valuetext="50% before"></div>
</div>
<p id="status" class="status" role="status" aria-live="polite"></p>
<dl id="facts" class="facts" hidden>
<div><dt>Size</dt><dd id="fact-size"></dd></div>
<div><dt>Bytes</dt><dd id="fact-bytes"></dd></div>
<div><dt>Format</dt><dd id="fact-format"></dd></div>
<div><dt>Strength</dt><dd id="fact-strength"></dd></div>
</dl>
<figure id="timing" class="timing" hidden><figcaption>Server-Timing (ms)</figcaption><ol id="timing-bars"></ol></figure>
<a id="download" class="button" hidden>Download</a>
</section>

<section class="api" aria-labelledby="api-h">
<h2 id="api-h">Call it</h2>
<pre>GET  ${o}/enhance?url=https://example.com/dark.jpg&amp;w=800
POST ${o}/enhance?format=png   (body: the image, or multipart/form-data with a "file" field)</pre>
<p>Every parameter, response header and error is in the <a href="/docs">API reference</a>.</p>
</section>
</main>
</body>
</html>
`;
}

/** A parameter from 0 to `max` that is either auto (the checkbox) or the range's value. */
/** A range with an "auto" checkbox (and `extra`, more choices beside it). */
function autoRange(name: string, label: string, value: number, max: number, extra = ""): string {
  return `<div class="control">
<label for="${name}">${label}</label>
<span class="row"><label class="auto"><input type="checkbox" id="${name}-auto" checked> auto</label>${extra}
<input type="range" id="${name}" min="0" max="${max}" step="0.01" value="${value}" disabled>
<output id="${name}-out" for="${name}">auto</output></span>
<p id="error-${name}" class="error" role="alert" hidden></p>
</div>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
