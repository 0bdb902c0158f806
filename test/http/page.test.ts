/**
 * The demo page and /docs in a real browser (the Chromium inside @sparticuz/chromium, driven by
 * playwright-core) against the bundled Worker in workerd: upload, URL mode, the slider, errors shown
 * where they belong, a phone screen, accessibility (axe) and a Content-Security-Policy that blocks
 * nothing the pages need.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { launchBrowser } from "../../scripts/lib/browser.ts";
import { startOrigin, type Origin } from "../helpers/origin.ts";
import { darkScene, encodeJpeg, encodePng, initFixtures, meanLuma, realDarkPhoto } from "../helpers/fixtures.ts";
import { gridHeic, patternTiles } from "../helpers/heic.ts";

let worker: StartedWorker;
let browser: Browser;
let origin: Origin;
let darkPng: Uint8Array;
let photoLuma = 0;
let photoSize = "";

before(async () => {
  await initFixtures();
  const photo = await realDarkPhoto();
  photoLuma = meanLuma(photo) / 255;
  photoSize = `${photo.width} × ${photo.height}`;
  darkPng = await encodePng(photo);
  // A local origin for URL mode: the photo, and a text file posing as one.
  origin = await startOrigin((req, res) => {
    if (req.url === "/dark.png") res.writeHead(200, { "Content-Type": "image/png" }).end(darkPng);
    else if (req.url === "/notes.txt") res.writeHead(200, { "Content-Type": "text/plain" }).end("not an image\n");
    else res.writeHead(404).end();
  });
  [worker, browser] = await Promise.all([startWorker({ vars: { ALLOW_PRIVATE_SOURCES: "true" } }), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await worker?.dispose();
  await origin?.close();
});

interface Opened {
  page: Page;
  context: BrowserContext;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
  /** Every /enhance request the page made. */
  calls: string[];
}

async function open(path = "/", opts: { width?: number; height?: number; dark?: boolean; touch?: boolean } = {}): Promise<Opened> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
    colorScheme: opts.dark ? "dark" : "light",
    hasTouch: opts.touch ?? false,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const calls: string[] = [];
  page.on("console", (m) => {
    // A failed /enhance is shown in the page; Chromium also logs the HTTP status it saw.
    if (m.type() === "error" && !/the server responded with a status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/enhance") calls.push(`${r.method()} ${r.url()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP blocked ${e.blockedURI} (${e.violatedDirective})`));
  });
  await page.goto(`${worker.url}${path}`);
  return { page, context, problems, calls };
}

/** Mean luma 0-1 of an <img> as the page decoded it, read back through a canvas. */
function imageLuma(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (el) => {
    const img = el as HTMLImageElement;
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext("2d")!;
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
    return sum / (d.length / 4) / 255;
  });
}

async function waitDone(page: Page): Promise<void> {
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "Done.", null, { timeout: 60_000 });
  await page.waitForFunction(() => {
    const a = document.getElementById("after") as HTMLImageElement;
    const b = document.getElementById("before") as HTMLImageElement;
    return a.complete && a.naturalWidth > 0 && b.complete && b.naturalWidth > 0;
  });
}

async function upload(page: Page, name = "dark-room.png"): Promise<void> {
  await page.setInputFiles("#file", { name, mimeType: "image/png", buffer: Buffer.from(darkPng) });
  await waitDone(page);
}

async function seriousA11y(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

describe("demo page", () => {
  test("an uploaded dark photo comes back brighter, with its facts, timings and a download", async () => {
    const o = await open();
    await upload(o.page);
    const [beforeLuma, afterLuma] = [await imageLuma(o.page, "#before"), await imageLuma(o.page, "#after")];
    // The page's "before" is the file itself, as the browser decodes it.
    assert.ok(Math.abs(beforeLuma - photoLuma) < 0.01, `before ${beforeLuma} vs the file's ${photoLuma}`);
    assert.ok(afterLuma > beforeLuma + 0.1, `after ${afterLuma.toFixed(3)} should be well above before ${beforeLuma.toFixed(3)}`);
    assert.equal(await o.page.textContent("#fact-size"), photoSize);
    assert.equal(await o.page.textContent("#fact-format"), "png");
    assert.match((await o.page.textContent("#fact-strength")) ?? "", /^(0(\.\d+)?|1) \(auto\)$/);
    assert.match((await o.page.textContent("#fact-bytes")) ?? "", /^\d+(\.\d)? KiB$/);
    const stages = await o.page.$$eval("#timing-bars .stage", (els) => els.map((e) => e.textContent));
    assert.ok(stages.includes("decode") && stages.includes("model") && stages.includes("encode"), stages.join(","));
    const download = await o.page.$eval("#download", (a) => ({ name: (a as HTMLAnchorElement).download, hidden: (a as HTMLElement).hidden }));
    assert.deepEqual(download, { name: "dark-room-enhanced.png", hidden: false });
    const [file] = await Promise.all([o.page.waitForEvent("download"), o.page.click("#download")]);
    assert.equal(file.suggestedFilename(), "dark-room-enhanced.png");
    assert.deepEqual(o.calls.map((c) => c.split(" ")[0]), ["POST"]);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("a photo larger than the service serves, at the default width, comes back scaled, never as an error", async () => {
    // 2400x1600 = 3.84 MP: a JPEG source the service takes, over its 2.46 MP output limit.
    const big = await encodeJpeg(darkScene(2400, 1600));
    const o = await open();
    await o.page.setInputFiles("#file", { name: "big-night.jpg", mimeType: "image/jpeg", buffer: Buffer.from(big) });
    await waitDone(o.page);
    assert.match((await o.page.textContent("#fact-size")) ?? "", /^\d+ × \d+ \(scaled from 2400 × 1600\)$/);
    assert.equal(await o.page.isVisible("#error-source"), false);
    const width = await o.page.$eval("#after", (img) => (img as HTMLImageElement).naturalWidth);
    assert.ok(width > 1800 && width < 2400, `served at ${width} px wide`);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("an iPhone HEIC (which Chromium cannot show) is enhanced, and its original is shown through the service", async () => {
    const grid = gridHeic(patternTiles(), { columns: 2, rows: 2, width: 120, height: 100 });
    const o = await open();
    await o.page.setInputFiles("#file", { name: "IMG_0001.HEIC", mimeType: "image/heic", buffer: Buffer.from(grid) });
    await waitDone(o.page);
    await o.page.waitForFunction(() => (document.getElementById("before") as HTMLImageElement).naturalWidth > 0, undefined, { timeout: 30_000 });
    const sizes = await o.page.$eval("#before", (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
    assert.deepEqual(sizes, [120, 100], "before: the original through the service");
    assert.equal(await o.page.$eval("#after", (img) => (img as HTMLImageElement).naturalWidth), 120);
    assert.equal(await o.page.isVisible("#error-source"), false);
    assert.deepEqual(o.calls.map((c) => c.split(" ")[0]).sort(), ["POST", "POST"], "the enhanced photo and the original");
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("a photo over the service's source limit is scaled in the browser and enhanced, never an error", async () => {
    // 2000x1400 = 2.8 MP: a PNG over the 2.46 MP PNG source limit.
    const big = await encodePng(darkScene(2000, 1400));
    const o = await open();
    await o.page.setInputFiles("#file", { name: "big-night.png", mimeType: "image/png", buffer: Buffer.from(big) });
    await o.page.waitForFunction(() => /^Done\./.test(document.getElementById("status")?.textContent ?? ""), undefined, { timeout: 30_000 });
    assert.match((await o.page.textContent("#status")) ?? "", /2000 × 1400, more than the service takes: it was scaled to \d+ × \d+ in your browser first/);
    assert.equal(await o.page.isVisible("#error-source"), false);
    const [w, h] = await o.page.$eval("#after", (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
    assert.ok(w * h <= 1920 * 1280 && w > 1800, `served ${w}x${h}`);
    assert.deepEqual(o.calls.map((c) => c.split(" ")[0]), ["POST", "POST"], "refused once, then sent scaled");
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("controls re-request once per burst of changes; what the service chose is shown", async () => {
    const o = await open();
    await upload(o.page);
    const autoLuma = await imageLuma(o.page, "#after");
    o.calls.length = 0;
    await o.page.uncheck("#strength-auto");
    for (const v of ["0.9", "0.6", "0.3", "0.2"]) await o.page.fill("#strength", v);
    await o.page.selectOption("#format", "jpeg");
    await waitDone(o.page);
    await o.page.waitForFunction(() => document.getElementById("fact-format")?.textContent === "jpeg");
    assert.equal(o.calls.length, 1, `one request after the burst, got ${o.calls.join("; ")}`);
    assert.match(o.calls[0]!, /format=jpeg/);
    assert.match(o.calls[0]!, /strength=0\.20/);
    assert.equal(await o.page.textContent("#fact-strength"), "0.2");
    assert.equal(await o.page.textContent("#strength-out"), "0.20");
    assert.match(await o.page.getAttribute("#download", "download") ?? "", /-enhanced\.jpg$/);
    assert.ok((await imageLuma(o.page, "#after")) < autoLuma, "strength 0.2 is darker than what auto chose");
    // denoise=strong stands for the denoise range while it is checked.
    o.calls.length = 0;
    await o.page.check("#denoise-strong");
    for (let t = 0; t < 300 && o.calls.length === 0; t++) await o.page.waitForTimeout(50);
    await waitDone(o.page);
    assert.equal(o.calls.length, 1, o.calls.join("; "));
    assert.match(o.calls[0]!, /denoise=strong/);
    assert.equal(await o.page.textContent("#denoise-out"), "strong");
    assert.equal(await o.page.isDisabled("#denoise"), true);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("a photo dropped on the page or pasted into it is enhanced too", async () => {
    const o = await open();
    const b64 = Buffer.from(darkPng).toString("base64");
    for (const how of ["drop", "paste"] as const) {
      await o.page.evaluate(
        ([how, b64]) => {
          document.getElementById("status")!.textContent = "";
          const bytes = Uint8Array.from(atob(b64!), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], how === "drop" ? "dropped.png" : "pasted.png", { type: "image/png" }));
          const target = document.getElementById("upload")!;
          if (how === "drop") {
            target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
            target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
          } else {
            document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
          }
        },
        [how, b64] as const,
      );
      await waitDone(o.page);
      assert.ok((await imageLuma(o.page, "#after")) > photoLuma + 0.1, how);
      assert.equal(await o.page.getAttribute("#download", "download"), how === "drop" ? "dropped-enhanced.png" : "pasted-enhanced.png");
    }
    assert.equal(await o.page.$eval("#upload", (e) => e.classList.contains("dragging")), false, "the drop highlight is cleared");
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("the slider follows the pointer and the keyboard; side by side shows both", async () => {
    const o = await open();
    await upload(o.page);
    const handle = o.page.locator("#handle");
    assert.equal(await handle.getAttribute("role"), "slider");
    const box = (await o.page.locator("#frame").boundingBox())!;
    await o.page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await o.page.mouse.down();
    await o.page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2, { steps: 5 });
    await o.page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 5 });
    await o.page.mouse.up();
    const dragged = Number(await handle.getAttribute("aria-valuenow"));
    assert.ok(Math.abs(dragged - 80) <= 1, `dragged to ${dragged}`);
    assert.match((await o.page.$eval("#after-pane", (e) => (e as HTMLElement).style.clipPath)) ?? "", new RegExp(`inset\\(0(px)? 0(px)? 0(px)? ${dragged}%\\)`));
    // Where the split is, the page shows the original on the left and the enhanced image on the right.
    const handleBox = (await handle.boundingBox())!;
    assert.ok(Math.abs(handleBox.x + handleBox.width / 2 - (box.x + box.width * 0.8)) < 3, "the handle sits at the split");

    await handle.focus();
    await o.page.keyboard.press("ArrowLeft");
    await o.page.keyboard.press("ArrowLeft");
    assert.equal(await handle.getAttribute("aria-valuenow"), String(dragged - 2));
    await o.page.keyboard.press("Shift+ArrowRight");
    assert.equal(await handle.getAttribute("aria-valuenow"), String(Math.min(100, dragged + 8)));
    await o.page.keyboard.press("Home");
    assert.equal(await handle.getAttribute("aria-valuenow"), "0");
    await o.page.keyboard.press("PageUp");
    assert.equal(await handle.getAttribute("aria-valuenow"), "10");
    await o.page.keyboard.press("End");
    assert.equal(await handle.getAttribute("aria-valuenow"), "100");

    await o.page.check('input[name="view"][value="side"]');
    assert.equal(await handle.isVisible(), false);
    const [b, a] = [(await o.page.locator("#before").boundingBox())!, (await o.page.locator("#after").boundingBox())!];
    assert.ok(a.x >= b.x + b.width - 1, "side by side: the enhanced image is right of the original");
    assert.ok(b.width > 100 && a.width > 100);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("a file that is not an image, after a good one: a message for a person, and the earlier result is gone", async () => {
    const expected = await fetch(`${worker.url}/enhance`, { method: "POST", body: "not an image\n", headers: { "Content-Type": "text/plain" } });
    assert.equal(expected.status, 415);
    const o = await open();
    await upload(o.page);
    assert.equal(await o.page.isVisible("#download"), true);
    await o.page.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not an image\n") });
    const shown = o.page.locator("#error-source");
    await shown.waitFor({ state: "visible" });
    assert.equal(await shown.textContent(), "That file is not a photo this page can brighten: choose a JPEG, HEIC, PNG, WebP, AVIF or GIF image.");
    assert.equal(await o.page.getAttribute("#file", "aria-invalid"), "true");
    assert.match((await o.page.textContent("#status")) ?? "", /415/);
    // Nothing of the previous photo's result stays: no After, no figures, no timings, no download.
    assert.equal(await o.page.getAttribute("#after", "src"), null);
    assert.equal(await o.page.isVisible("#after"), false);
    assert.equal(await o.page.isVisible("#facts"), false);
    assert.equal(await o.page.isVisible("#timing"), false);
    assert.equal(await o.page.isVisible("#download"), false);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("a parameter the service refuses is explained next to its control", async () => {
    const o = await open();
    await upload(o.page);
    await o.page.fill("#w", "99999");
    const shown = o.page.locator("#error-w");
    await shown.waitFor({ state: "visible" });
    const res = await fetch(`${worker.url}/enhance?w=99999`, { method: "POST", body: Buffer.from(darkPng), headers: { "Content-Type": "image/png" } });
    const { error } = (await res.json()) as { error: { message: string; param: string } };
    assert.equal(error.param, "w");
    assert.equal(await shown.textContent(), error.message);
    assert.equal(await o.page.getAttribute("#w", "aria-invalid"), "true");
    // Fixing it clears the message and brings a result at that width.
    await o.page.fill("#w", "120");
    await waitDone(o.page);
    await o.page.waitForFunction(() => (document.getElementById("after") as HTMLImageElement).naturalWidth === 120);
    assert.equal(await shown.isVisible(), false);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("URL mode fetches through the service: both sides come from /enhance", async () => {
    const o = await open();
    await o.page.fill("#url", `${origin.url}/dark.png`);
    await o.page.click("#url-form button[type=submit]");
    await waitDone(o.page);
    const gets = o.calls.filter((c) => c.startsWith("GET "));
    assert.equal(gets.length, 2, gets.join("; "));
    assert.ok(gets.some((c) => /strength=0&/.test(c) || /strength=0$/.test(c)), "the original through the service, not brightened");
    const [beforeLuma, afterLuma] = [await imageLuma(o.page, "#before"), await imageLuma(o.page, "#after")];
    assert.ok(Math.abs(beforeLuma - photoLuma) < 0.01, `before ${beforeLuma} vs ${photoLuma}`);
    assert.ok(afterLuma > beforeLuma + 0.1, `after ${afterLuma} vs before ${beforeLuma}`);
    assert.match(await o.page.getAttribute("#download", "download") ?? "", /^dark-enhanced\.\w+$/);

    // A URL whose bytes are not an image: the service's message, by the URL field.
    await o.page.fill("#url", `${origin.url}/notes.txt`);
    await o.page.click("#url-form button[type=submit]");
    const shown = o.page.locator("#error-source");
    await shown.waitFor({ state: "visible" });
    assert.match((await shown.textContent()) ?? "", /PNG, JPEG, WebP|not an image|image/i);
    assert.equal(await o.page.getAttribute("#url", "aria-invalid"), "true");
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("a phone-width screen in dark mode: nothing overflows, the frame fits", async () => {
    const o = await open("/", { width: 390, height: 844, dark: true, touch: true });
    await upload(o.page);
    const widths = await o.page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      frame: document.getElementById("frame")!.getBoundingClientRect().width,
      bg: getComputedStyle(document.body).backgroundColor,
    }));
    assert.ok(widths.doc <= 390, `page is ${widths.doc}px wide on a 390px screen`);
    assert.ok(widths.frame > 300 && widths.frame <= 390, `frame ${widths.frame}px`);
    const [r, g, b] = (widths.bg.match(/\d+/g) ?? []).map(Number);
    assert.ok(r! + g! + b! < 3 * 60, `dark scheme background, got ${widths.bg}`);
    // Touch drags move the split too (pointer events cover touch).
    await o.page.locator("#frame").scrollIntoViewIfNeeded();
    const box = (await o.page.locator("#frame").boundingBox())!;
    const cdp = await o.context.newCDPSession(o.page);
    const y = box.y + box.height / 2;
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x: box.x + box.width * 0.5, y }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: box.x + box.width * 0.4, y }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x: box.x + box.width * 0.25, y }] });
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    const now = Number(await o.page.getAttribute("#handle", "aria-valuenow"));
    assert.ok(Math.abs(now - 25) <= 2, `touch moved the split to ${now}`);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test("axe finds no serious or critical violation, empty or with a result, light or dark", async () => {
    for (const dark of [false, true]) {
      const o = await open("/", { dark });
      assert.deepEqual(await seriousA11y(o.page), [], `empty page (${dark ? "dark" : "light"})`);
      await upload(o.page);
      assert.deepEqual(await seriousA11y(o.page), [], `with a result (${dark ? "dark" : "light"})`);
      assert.deepEqual(o.problems, []);
      await o.context.close();
    }
  });
});

describe("/docs", () => {
  test("renders every operation of /openapi.json with nothing blocked", async () => {
    const o = await open("/docs");
    await o.page.waitForSelector(".opblock", { timeout: 30_000 });
    const ops = await o.page.$$eval(".opblock-summary-path", (els) => els.map((e) => e.textContent?.replace(/\u200b/g, "").trim()));
    for (const path of ["/enhance", "/health", "/openapi.json", "/docs", "/"]) assert.ok(ops.includes(path), `${path} in ${ops.join(", ")}`);
    const methods = await o.page.$$eval(".opblock-summary-method", (els) => els.map((e) => e.textContent));
    for (const m of ["GET", "HEAD", "POST"]) assert.ok(methods.includes(m), m);
    // Expanding GET /enhance shows its documented parameters.
    await o.page.click(".opblock-get .opblock-summary-path >> text=/enhance");
    await o.page.waitForSelector(".parameters .parameter__name");
    const names = await o.page.$$eval(".parameters .parameter__name", (els) => els.map((e) => e.textContent?.replace(/\*|\s/g, "")));
    for (const p of ["url", "w", "h", "strength", "format"]) assert.ok(names.includes(p), `${p} in ${names.join(",")}`);
    assert.deepEqual(o.problems, []);
    await o.context.close();
  });

  test('"Try it out" on GET /enhance with only url and w filled in: that request, and its image shown', async () => {
    const o = await open("/docs");
    await o.page.waitForSelector(".opblock", { timeout: 30_000 });
    const op = o.page.locator(".opblock-get", { has: o.page.locator(".opblock-summary-path", { hasText: /^\/enhance$/ }) }).first();
    await op.locator(".opblock-summary").click();
    await op.locator(".try-out__btn").click();
    // No example values pre-filled: sizes and quality start empty, dpr at its default.
    for (const name of ["w", "h", "q"]) {
      const value = await op.locator(`tr[data-param-name="${name}"] input`).inputValue();
      assert.equal(value, "", `${name} starts empty, got "${value}"`);
    }
    assert.equal(await op.locator('tr[data-param-name="dpr"] input').inputValue(), "1");
    await op.locator('tr[data-param-name="url"] input').fill(`${origin.url}/dark.png`);
    await op.locator('tr[data-param-name="w"] input').fill("120");
    await op.locator(".execute").click();
    const img = op.locator(".live-responses-table img");
    await img.waitFor({ state: "visible", timeout: 30_000 });
    await o.page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await img.elementHandle());
    assert.equal(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth), 120, "the image answered for w=120 alone");
    const sent = o.calls.filter((c) => c.startsWith("GET ") && c.includes("/enhance?"));
    assert.equal(sent.length, 1, sent.join("; "));
    const query = new URL(sent[0]!.slice(4)).searchParams;
    assert.deepEqual([...query.keys()].filter((k) => !["fit", "format", "mode", "orient", "strength", "denoise", "dpr"].includes(k)).sort(), ["url", "w"]);
    assert.ok(!query.has("h") && !query.has("q"), `no h or q was sent: ${sent[0]}`);
    assert.deepEqual(o.problems, [], "nothing blocked, including the blob: preview");
    await o.context.close();
  });
});
