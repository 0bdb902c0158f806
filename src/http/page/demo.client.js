// @ts-check
// The demo page's behaviour: pick a source, call /enhance with the controls' values, compare.
// Plain browser JavaScript (type-checked with ./tsconfig.json), served as /assets/demo.js, a module.

import "./demo-compare.client.js";
import { ApiError, call, forPeople, scaleToFit } from "./demo-service.client.js";

/** @typedef {import("./demo-service.client.js").Result} Result */

/** @template {HTMLElement} T @param {string} id @returns {T} */
const $ = (id) => /** @type {T} */ (document.getElementById(id));

const fileInput = /** @type {HTMLInputElement} */ ($("file"));
const urlForm = /** @type {HTMLFormElement} */ ($("url-form"));
const urlInput = /** @type {HTMLInputElement} */ ($("url"));
const dropZone = $("upload");
const frame = $("frame");
const before = /** @type {HTMLImageElement} */ ($("before"));
const after = /** @type {HTMLImageElement} */ ($("after"));
const statusLine = $("status");
const download = /** @type {HTMLAnchorElement} */ ($("download"));

/** Controls whose value is sent as the query parameter of the same name. */
const PARAMS = ["strength", "denoise", "w", "format", "mode"];
const DEBOUNCE_MS = 250;
const EXTENSIONS = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/avif": "avif" };

/** @typedef {{ kind: "file", file: Blob, name: string, scaled?: boolean } | { kind: "url", url: string, name: string }} Source */
/** @type {Source | null} */
let source = null;
/** @type {AbortController | null} */
let inFlight = null;
/** @type {number | undefined} */
let timer;
/** The query the current "before" was made for (URL mode fetches it through the service). */
let beforeKey = "";
/** @type {string[]} */
let objectUrls = [];
/** Said when the photo had to be scaled in the browser before the service would take it. */
let scaledNote = "";

// --- source --------------------------------------------------------------------------------------

/** @param {File} file */
function useFile(file) {
  source = { kind: "file", file, name: baseName(file.name) || "photo" };
  beforeKey = "file";
  if (/^image\/hei[cf]/.test(file.type) || /\.hei[cf]$/i.test(file.name)) {
    // Most browsers cannot show a HEIC: the original comes through the service (strength=0, as for URLs).
    const headers = { "Content-Type": file.type || "application/octet-stream" };
    call("/enhance?strength=0&denoise=0&format=jpeg", { method: "POST", body: file, headers }).then(
      (r) => source?.kind === "file" && source.file === file && showBefore(URL.createObjectURL(r.blob)),
      () => {}, // the enhance request reports what is wrong
    );
  } else showBefore(URL.createObjectURL(file));
  request(0);
}

fileInput.addEventListener("change", () => {
  const f = fileInput.files?.[0];
  if (f) useFile(f);
});

urlForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const url = urlInput.value.trim();
  if (!url) return showError("url", "Enter the URL of an image (http or https).");
  let name = "photo";
  try {
    name = baseName(new URL(url).pathname.split("/").pop() ?? "") || name;
  } catch {
    // The service names what is wrong with the URL.
  }
  source = { kind: "url", url, name };
  beforeKey = "";
  request(0);
});

for (const type of ["dragenter", "dragover"]) {
  document.addEventListener(type, (e) => {
    e.preventDefault();
    dropZone.classList.add("dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  document.addEventListener(type, () => dropZone.classList.remove("dragging"));
}
document.addEventListener("drop", (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) useFile(f);
});
document.addEventListener("paste", (e) => {
  const f = e.clipboardData?.files[0];
  if (f) {
    e.preventDefault();
    useFile(f);
  }
});

// --- controls ------------------------------------------------------------------------------------

for (const name of ["strength", "denoise"]) {
  const range = /** @type {HTMLInputElement} */ ($(name));
  const auto = /** @type {HTMLInputElement} */ ($(`${name}-auto`));
  const out = /** @type {HTMLOutputElement} */ ($(`${name}-out`));
  // denoise=strong: auto's level with the DCT denoiser; it stands for the range while checked.
  const strong = /** @type {HTMLInputElement | null} */ (document.getElementById(`${name}-strong`));
  const sync = () => {
    range.disabled = auto.checked || !!strong?.checked;
    out.value = strong?.checked ? "strong" : auto.checked ? "auto" : Number(range.value).toFixed(2);
  };
  auto.addEventListener("change", () => (sync(), request(DEBOUNCE_MS)));
  strong?.addEventListener("change", () => (sync(), request(DEBOUNCE_MS)));
  range.addEventListener("input", () => (sync(), request(DEBOUNCE_MS)));
  sync();
}
for (const name of ["w", "format", "mode"]) {
  $(name).addEventListener(name === "w" ? "input" : "change", () => request(DEBOUNCE_MS));
}

/** The query the controls describe; empty values are left to the service's defaults. */
function controlQuery() {
  const q = new URLSearchParams();
  for (const name of ["strength", "denoise"]) {
    const auto = /** @type {HTMLInputElement} */ ($(`${name}-auto`));
    const range = /** @type {HTMLInputElement} */ ($(name));
    const strong = /** @type {HTMLInputElement | null} */ (document.getElementById(`${name}-strong`));
    if (strong?.checked) q.set(name, "strong");
    else if (!auto.checked) q.set(name, Number(range.value).toFixed(2));
  }
  const w = /** @type {HTMLInputElement} */ ($("w"));
  // The raw text, so what the service refuses (0, 1e3, 99999) is shown as it says it.
  if (w.value !== "" || w.validity.badInput) q.set("w", w.value);
  q.set("format", /** @type {HTMLSelectElement} */ ($("format")).value);
  q.set("mode", /** @type {HTMLSelectElement} */ ($("mode")).value);
  return q;
}

// --- requests ------------------------------------------------------------------------------------

/** Asks again after `delay` ms, cancelling whatever is still in flight. @param {number} delay */
function request(delay) {
  clearTimeout(timer);
  timer = window.setTimeout(run, delay);
}

async function run() {
  if (!source) return;
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  clearErrors();
  const q = controlQuery();
  setStatus("Enhancing…");
  frame.classList.add("busy");
  try {
    const tasks = [];
    if (source.kind === "url") {
      // The original through the service itself (strength=0: decoded, resized, re-encoded, not
      // brightened), since the page may only load images from its own origin.
      const bq = new URLSearchParams({ url: source.url, strength: "0", denoise: "0", format: q.get("format") ?? "auto" });
      if (q.has("w")) bq.set("w", q.get("w") ?? "");
      if (bq.toString() !== beforeKey) {
        const key = bq.toString();
        tasks.push(
          call(`/enhance?${key}`, { signal: controller.signal }).then((r) => {
            showBefore(URL.createObjectURL(r.blob));
            beforeKey = key;
          }),
        );
      }
      q.set("url", source.url);
      tasks.unshift(call(`/enhance?${sortedQuery(q)}`, { signal: controller.signal }));
    } else {
      const body = source.file;
      const headers = { "Content-Type": body.type || "application/octet-stream" };
      tasks.unshift(call(`/enhance?${sortedQuery(q)}`, { method: "POST", body, headers, signal: controller.signal }));
    }
    const [result] = await Promise.all(tasks);
    if (controller.signal.aborted || !result) return;
    showResult(/** @type {Result} */ (result));
  } catch (err) {
    if (controller.signal.aborted) return;
    // A photo larger than the service takes is scaled down here, in the browser, and sent again:
    // nobody should see an error for a photo just because it is large.
    const limit = err instanceof ApiError && err.code === "too_many_pixels" && !err.param ? /the limit is (\d+)/.exec(err.message) : null;
    if (limit && source?.kind === "file" && !source.scaled) {
      const scaled = await scaleToFit(source.file, Number(limit[1]));
      if (scaled && source?.kind === "file") {
        source = { ...source, file: scaled.blob, scaled: true };
        scaledNote = `The photo is ${scaled.from}, more than the service takes: it was scaled to ${scaled.to} in your browser first.`;
        request(0);
        return;
      }
    }
    // Whatever was shown was made from other settings or another photo: it must not stay as "After".
    clearResult();
    if (err instanceof ApiError) {
      // A parameter's error goes to its control; anything about the image, to where it came from,
      // in words for a person who picked a file or pasted an address.
      const isParam = Boolean(err.param && err.param !== "url" && PARAMS.includes(err.param));
      const where = isParam ? /** @type {string} */ (err.param) : source?.kind === "url" ? "url" : "source";
      showError(where, isParam ? err.message : forPeople(err, source?.kind === "url"));
      setStatus(`The service answered ${err.status}.`);
    } else {
      showError("source", `The request failed: ${err instanceof Error ? err.message : String(err)}`);
      setStatus("");
    }
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      frame.classList.remove("busy");
    }
  }
}

/** @param {URLSearchParams} q  Sorted, so identical settings make identical URLs (one cache entry). */
function sortedQuery(q) {
  q.sort();
  return q.toString();
}

// --- showing -------------------------------------------------------------------------------------

/** @param {string} src */
function showBefore(src) {
  track(src);
  before.src = src;
}

/** @param {Result} r */
function showResult(r) {
  const url = URL.createObjectURL(r.blob);
  track(url);
  after.src = url;
  frame.classList.remove("empty");
  const type = r.blob.type.split(";")[0] ?? "";
  const strength = r.headers.get("X-Enhance-Strength") ?? "";
  const scaledFrom = r.headers.get("X-Enhance-Scaled-From");
  const size = (r.headers.get("X-Enhance-Size") ?? "").replace("x", " × ");
  // A large photo with no width asked for comes back at the largest size the service serves.
  text("fact-size", scaledFrom ? `${size} (scaled from ${scaledFrom.replace("x", " × ")})` : size);
  text("fact-bytes", formatBytes(r.blob.size));
  text("fact-format", type.replace("image/", ""));
  text("fact-strength", isAutoStrength() ? `${strength} (auto)` : strength);
  $("facts").hidden = false;
  showTiming(r.headers.get("Server-Timing") ?? "");
  download.href = url;
  download.download = `${source?.name ?? "photo"}-enhanced.${EXTENSIONS[/** @type {keyof typeof EXTENSIONS} */ (type)] ?? "img"}`;
  download.hidden = false;
  setStatus(source?.kind === "file" && source.scaled ? `Done. ${scaledNote}` : "Done.");
}

/** Nothing under "After": no picture, figures, timings or download of an earlier result. */
function clearResult() {
  after.removeAttribute("src");
  frame.classList.add("empty");
  $("facts").hidden = true;
  $("timing").hidden = true;
  download.removeAttribute("href");
  download.hidden = true;
}

function isAutoStrength() {
  return /** @type {HTMLInputElement} */ ($("strength-auto")).checked;
}

/** Server-Timing "stage;dur=12.3, ..." as bars scaled to the slowest stage. @param {string} header */
function showTiming(header) {
  const stages = header
    .split(",")
    .map((part) => {
      const [name = "", ...attrs] = part.trim().split(";");
      const dur = attrs.map((a) => a.trim()).find((a) => a.startsWith("dur="));
      return { name, ms: dur ? Number(dur.slice(4)) : NaN };
    })
    .filter((s) => s.name && Number.isFinite(s.ms));
  const list = $("timing-bars");
  list.replaceChildren();
  const max = Math.max(1, ...stages.map((s) => s.ms));
  for (const s of stages) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.className = "stage";
    label.textContent = s.name;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(100 * s.ms) / max}%`;
    const value = document.createElement("span");
    value.className = "ms";
    value.textContent = s.ms.toFixed(1);
    li.append(label, bar, value);
    list.append(li);
  }
  $("timing").hidden = stages.length === 0;
}

/** Keeps at most the blobs on screen: the previous result's URL is released when replaced. @param {string} url */
function track(url) {
  objectUrls.push(url);
  const live = new Set([before.src, after.src, download.href, url]);
  objectUrls = objectUrls.filter((u) => live.has(u) || (URL.revokeObjectURL(u), false));
}

/** @param {string} where  a parameter name, "url" or "source" @param {string} message */
function showError(where, message) {
  const el = $(`error-${where === "url" ? "source" : where}`);
  el.textContent = message;
  el.hidden = false;
  const control = where === "source" ? fileInput : where === "url" ? urlInput : $(where);
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-describedby", el.id);
}

function clearErrors() {
  for (const el of document.querySelectorAll(".error")) {
    /** @type {HTMLElement} */ (el).hidden = true;
    el.textContent = "";
  }
  for (const el of document.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
}

/** @param {string} message */
function setStatus(message) {
  statusLine.textContent = message;
}

/** @param {string} id @param {string} value */
function text(id, value) {
  $(id).textContent = value;
}

/** @param {number} n */
function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** @param {string} name */
function baseName(name) {
  return name.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_").slice(0, 80);
}
