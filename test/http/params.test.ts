import { DEFAULT_QUALITY } from "../../src/image/encoder-settings.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalKey, parseQuery, signingPayload, PARAM_DEFAULTS } from "../../src/http/params.ts";
import { negotiateFormat } from "../../src/http/negotiate.ts";
import { HttpError } from "../../src/shared/errors.ts";

const q = (s: string) => new URLSearchParams(s);
const URL_ = "url=https%3A%2F%2Fexample.com%2Fa.jpg";

function refusal(query: string, method: "GET" | "POST" = "GET"): string {
  try {
    parseQuery(q(query), method);
  } catch (e) {
    assert.ok(e instanceof HttpError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "bad_parameter");
    return e.message;
  }
  assert.fail(`accepted: ${query}`);
}

test("defaults", () => {
  const { params, sig } = parseQuery(q(URL_), "GET");
  assert.deepEqual(params, { ...PARAM_DEFAULTS, url: "https://example.com/a.jpg" });
  assert.equal(sig, null);
});

test("every parameter parses", () => {
  const { params, sig } = parseQuery(
    q(`${URL_}&w=640&h=480&fit=cover&format=jpeg&q=70&strength=0.35&denoise=0.5&mode=full&orient=false&sig=abc`),
    "GET",
  );
  assert.deepEqual(params, {
    url: "https://example.com/a.jpg",
    width: 640,
    height: 480,
    fit: "cover",
    format: "jpeg",
    quality: 70,
    strength: 0.35,
    denoise: 0.5,
    mode: "full",
    orient: false,
  });
  assert.equal(sig, "abc");
  for (const [s, v] of [["0", 0], ["1", 1], ["1.00", 1], [".5", 0.5], ["0.05", 0.05], ["auto", "auto"]] as const) {
    assert.equal(parseQuery(q(`${URL_}&strength=${s}`), "GET").params.strength, v);
    assert.equal(parseQuery(q(`${URL_}&denoise=${s}`), "GET").params.denoise, v);
  }
  assert.equal(parseQuery(q(URL_), "GET").params.denoise, "auto");
  assert.equal(parseQuery(q(`${URL_}&denoise=strong`), "GET").params.denoise, "strong");
});

test("refusals name the parameter and what is allowed", () => {
  assert.match(refusal(`${URL_}&width=5`), /unknown parameter "width"; allowed: url, w, h, dpr, fit/);
  assert.match(refusal(`${URL_}&w=5&w=6`), /"w" is given more than once/);
  assert.match(refusal(`${URL_}&fit=fill`), /fit="fill" is not allowed; use one of: scale-down, contain, cover/);
  assert.match(refusal(`${URL_}&format=gif`), /format="gif".*auto, jpeg, png, webp, avif/);
  for (const bad of ["0", "0.5", "4.01", "5", "1.555", "", "2x", "1e0", "-1", " 2"]) {
    assert.match(refusal(`${URL_}&w=100&dpr=${encodeURIComponent(bad)}`), /dpr=.* a number from 1 to 4 with at most 2 decimals/, bad);
  }
  assert.match(refusal(`${URL_}&mode=slow`), /mode="slow".*fast, full/);
  assert.match(refusal(`${URL_}&orient=1`), /orient="1".*true, false/);
  for (const bad of ["0", "-1", "1.5", "08", "8193", "1e3", "", " 5", "0x10"]) {
    assert.match(refusal(`${URL_}&w=${encodeURIComponent(bad)}`), /w=.* use a whole number from 1 to 8192/, bad);
    assert.match(refusal(`${URL_}&h=${encodeURIComponent(bad)}`), /h=.* from 1 to 8192/, bad);
  }
  for (const bad of ["0", "101", "50.5", ""]) assert.match(refusal(`${URL_}&q=${bad}`), /q=.* from 1 to 100/, bad);
  for (const bad of ["1.01", "2", "-0.1", "0.333", "", "AUTO", "1e-1", "0.", "STRONG", "strongest"]) {
    assert.match(refusal(`${URL_}&denoise=${encodeURIComponent(bad)}`), /denoise=.*auto, strong or a number from 0 to 1 /, bad);
  }
  for (const bad of ["2.01", "3", "-0.1", "0.333", "", "AUTO", "1e-1", "0.", "02"]) {
    assert.match(refusal(`${URL_}&strength=${encodeURIComponent(bad)}`), /strength=.*auto or a number from 0 to 2 /, bad);
  }
  // Past 1 the curves go on brightening (auto reports such strengths in X-Enhance-Strength).
  for (const good of ["1.01", "1.5", "2"]) assert.equal(parseQuery(q(`${URL_}&strength=${good}`), "GET").params.strength, Number(good));
  assert.match(refusal(""), /url is required/);
  assert.match(refusal("url="), /url is required/);
  assert.match(refusal(URL_, "POST"), /url is only for GET/);
  assert.ok(refusal("x".repeat(500) + "=1").length < 200, "long names are truncated in messages");
});

test("formats and dpr: every output format, q optional, dpr multiplies w and h", () => {
  for (const f of ["auto", "jpeg", "png", "webp", "avif"]) assert.equal(parseQuery(q(`${URL_}&format=${f}`), "GET").params.format, f);
  assert.equal(parseQuery(q(URL_), "GET").params.quality, undefined);
  assert.equal(parseQuery(q(`${URL_}&q=60`), "GET").params.quality, 60);
  const p = parseQuery(q(`${URL_}&w=100&h=51&dpr=1.5`), "GET").params;
  assert.deepEqual([p.width, p.height], [150, 77]);
  assert.equal(parseQuery(q(`${URL_}&dpr=2`), "GET").params.width, undefined, "dpr without w/h changes nothing");
  assert.equal(parseQuery(q(`${URL_}&w=8192&dpr=4`), "GET").params.width, 32768, "the pipeline's pixel limit decides (422), not a clamp");
  // w=200&dpr=2 and w=400 are one entry; q defaults are resolved per format.
  const key = (s: string, f: "jpeg" | "webp" | "png" | "source") => canonicalKey(parseQuery(q(`${URL_}&${s}`), "GET").params, "src", f);
  assert.equal(key("w=200&dpr=2", "webp"), key("w=400", "webp"));
  assert.equal(key(`q=${DEFAULT_QUALITY.webp}`, "webp"), key("fit=scale-down", "webp"));
  assert.notEqual(key(`q=${DEFAULT_QUALITY.webp}`, "jpeg"), key("fit=scale-down", "jpeg"), "defaults differ per format");
  assert.equal(key("q=10", "png"), key("q=90", "png"), "PNG ignores q");
});

test("POST takes the same parameters without url", () => {
  const { params } = parseQuery(q("w=100&format=png"), "POST");
  assert.equal(params.url, undefined);
  assert.equal(params.width, 100);
});

test("signing payload: sorted, encodeURIComponent, sig excluded", () => {
  const a = parseQuery(q(`w=300&${URL_}&sig=zzz&fit=cover`), "GET").signingPayload;
  const b = parseQuery(q(`fit=cover&${URL_}&w=300`), "GET").signingPayload;
  assert.equal(a, b);
  assert.equal(a, "fit=cover&url=https%3A%2F%2Fexample.com%2Fa.jpg&w=300");
  assert.equal(signingPayload([["url", "http://x/a b+c?d=1&e"]]), "url=http%3A%2F%2Fx%2Fa%20b%2Bc%3Fd%3D1%26e");
});

test("canonical key fills defaults, so equivalent requests share it", () => {
  const a = parseQuery(q(URL_), "GET").params;
  const b = parseQuery(q(`${URL_}&fit=scale-down&q=85&strength=auto&denoise=auto&mode=fast&orient=true&format=auto`), "GET").params;
  assert.equal(canonicalKey(a, "https://example.com/a.jpg", "png"), canonicalKey(b, "https://example.com/a.jpg", "png"));
  assert.notEqual(canonicalKey(a, "https://example.com/a.jpg", "png"), canonicalKey(a, "https://example.com/a.jpg", "jpeg"));
  assert.notEqual(canonicalKey(a, "https://example.com/a.jpg", "source"), canonicalKey({ ...a, width: 10 }, "https://example.com/a.jpg", "source"));
  assert.notEqual(canonicalKey(a, "https://example.com/a.jpg", "png"), canonicalKey({ ...a, denoise: 0 }, "https://example.com/a.jpg", "png"));
});

test("format negotiation from Accept", () => {
  assert.equal(negotiateFormat(null), "source");
  assert.equal(negotiateFormat("*/*"), "source");
  // Browsers' image Accept headers (Chrome/Firefox, Safari) list AVIF and WebP explicitly.
  assert.equal(negotiateFormat("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"), "avif");
  assert.equal(negotiateFormat("image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"), "avif");
  assert.equal(negotiateFormat("image/webp,*/*"), "webp");
  assert.equal(negotiateFormat("image/avif;q=0, image/webp"), "webp");
  assert.equal(negotiateFormat("image/*"), "source", "a wildcard alone is not AVIF/WebP support");
  assert.equal(negotiateFormat("image/png"), "png");
  assert.equal(negotiateFormat("image/jpeg"), "jpeg");
  assert.equal(negotiateFormat("image/png;q=0.5, image/jpeg;q=0.9"), "jpeg");
  assert.equal(negotiateFormat("image/png, image/*;q=0.5"), "png");
  assert.equal(negotiateFormat("image/webp;q=0, image/jpeg;q=0.8, */*;q=0.1"), "jpeg");
  assert.equal(negotiateFormat("image/png;q=0, */*"), "jpeg");
  assert.equal(negotiateFormat("IMAGE/PNG ; Q=1"), "png");
  assert.equal(negotiateFormat("garbage,,;;"), "source");
});
