/**
 * The API contract served at /openapi.json, checked against the running Worker: it validates as
 * OpenAPI 3.1, documents what the Worker answers (routes, headers, error codes), and a property test
 * built from the document's own parameter schemas sends values in and out of range and checks that the
 * Worker accepts exactly what the document allows.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Validator } from "@seriousme/openapi-schema-validator";
import { startWorker, type StartedWorker } from "../../scripts/lib/local-worker.ts";
import { encodePng, darkScene, initFixtures } from "../helpers/fixtures.ts";
import { expectError } from "../helpers/errors.ts";

/** The subset of JSON Schema the document uses for query parameters. */
interface Schema {
  type?: "string" | "integer" | "number" | "boolean" | "object";
  enum?: readonly string[];
  anyOf?: Schema[];
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  minLength?: number;
  default?: unknown;
  properties?: Record<string, Schema & { $ref?: string }>;
  required?: string[];
  $ref?: string;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: Schema }> }>;
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

let worker: StartedWorker;
let doc: Doc;
let outbound = 0;
const SOURCE = "https://example.com/dark.jpg";
// Fixed so CI is repeatable; FC_SEED=random explores further (a failure prints its seed to pin).
const SEED = process.env.FC_SEED === "random" ? {} : { seed: Number(process.env.FC_SEED ?? 13) };

before(async () => {
  await initFixtures();
  // No source is ever fetched here: HEAD answers from the parameters alone, and a 400 comes before
  // any fetch. A subrequest would show up as a 502 and in this count. The source's host is on the
  // allow-list, as onerror=redirect requires (the document says so).
  worker = await startWorker({
    vars: { ALLOWED_SOURCES: new URL(SOURCE).hostname },
    outbound: () => {
      outbound++;
      return new Response("no network in this test", { status: 500 });
    },
  });
  doc = (await (await fetch(`${worker.url}/openapi.json`)).json()) as Doc;
});

after(() => worker?.dispose());

function op(path: string, method: string): Operation {
  const o = doc.paths[path]?.[method];
  assert.ok(o, `${method.toUpperCase()} ${path} is documented`);
  return o;
}

/**
 * What the document says about one query value. Query text is a number when written the way the
 * document's description says: integers as digits, other numbers as plain decimals with no more
 * decimals than their multipleOf has (so 5.0 is not an integer and 0.500 not a hundredth).
 */
function allows(schema: Schema, text: string): boolean {
  if (schema.anyOf) return schema.anyOf.some((s) => allows(s, text));
  if (schema.enum) return schema.enum.includes(text);
  switch (schema.type) {
    case "boolean":
      return text === "true" || text === "false";
    case "integer":
    case "number": {
      const decimals = schema.type === "integer" ? 0 : schema.multipleOf !== undefined ? decimalsOf(schema.multipleOf) : 20;
      const spelled = decimals === 0 ? /^-?\d+$/ : new RegExp(`^-?(\\d+(\\.\\d{1,${decimals}})?|\\.\\d{1,${decimals}})$`);
      if (!spelled.test(text)) return false;
      const n = Number(text);
      if (schema.minimum !== undefined && n < schema.minimum) return false;
      if (schema.maximum !== undefined && n > schema.maximum) return false;
      return true;
    }
    case "string":
      return text.length >= (schema.minLength ?? 0);
    default:
      throw new Error(`schema without a type the test knows: ${JSON.stringify(schema)}`);
  }
}

function decimalsOf(step: number): number {
  return (String(step).split(".")[1] ?? "").length;
}

/** Values around and inside what `schema` allows, and plainly wrong ones, as query text. */
function candidates(schema: Schema): fc.Arbitrary<string> {
  const junk = fc.constantFrom("", "abc", "auto", "none", "NaN", "-1", "1e3", "0x10", " 1", "true", ".5", ".25", "1.", "+1", "Infinity");
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map(candidates), junk);
  if (schema.enum) return fc.oneof(fc.constantFrom(...schema.enum), fc.constantFrom(...schema.enum.map((v) => v.toUpperCase())), fc.string({ maxLength: 6 }), junk);
  switch (schema.type) {
    case "boolean":
      return fc.oneof(fc.constantFrom("true", "false"), fc.constantFrom("1", "0", "yes", "TRUE"), junk);
    case "integer": {
      const [lo, hi] = [schema.minimum ?? 0, schema.maximum ?? 1000];
      return fc.oneof(
        fc.integer({ min: lo - 3, max: lo + 3 }).map(String),
        fc.integer({ min: hi - 3, max: hi + 3 }).map(String),
        fc.integer({ min: lo, max: hi }).map(String),
        fc.integer({ min: lo * 10, max: hi * 10 }).map((k) => (k / 10).toFixed(1)),
        junk,
      );
    }
    case "number": {
      const [lo, hi] = [schema.minimum ?? 0, schema.maximum ?? 10];
      const step = schema.multipleOf ?? 0.01;
      const grid = (a: number, b: number) => fc.integer({ min: Math.round(a / step), max: Math.round(b / step) }).map((k) => String(Math.round(k * step * 1e6) / 1e6));
      return fc.oneof(
        grid(lo, hi),
        grid(lo - 0.05, lo + 0.05),
        grid(hi - 0.05, hi + 0.05),
        fc.integer({ min: Math.round(lo * 1000), max: Math.round(hi * 1000) }).map((k) => (k / 1000).toFixed(3)),
        fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) }).map((k) => `${k}.00`),
        junk,
      );
    }
    case "string":
      return fc.string({ maxLength: 12 });
    default:
      throw new Error(`schema without a type the test knows: ${JSON.stringify(schema)}`);
  }
}


describe("the OpenAPI document", () => {
  test("validates as OpenAPI 3.1", async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as unknown as Parameters<Validator["validate"]>[0]);
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1));
    assert.equal(validator.version, "3.1");
  });

  test("documents every route the Worker serves, with its methods", async () => {
    assert.deepEqual(Object.keys(doc.paths).sort(), ["/", "/docs", "/enhance", "/health", "/openapi.json"]);
    assert.deepEqual(Object.keys(doc.paths["/enhance"]!).sort(), ["get", "head", "post"]);
    for (const path of ["/", "/docs", "/health", "/openapi.json"]) {
      const res = await fetch(`${worker.url}${path}`);
      assert.equal(res.status, 200, path);
      const documented = Object.keys(op(path, "get").responses["200"]!.content ?? {});
      assert.ok(documented.includes((res.headers.get("Content-Type") ?? "").split(";")[0]!), `${path}: ${res.headers.get("Content-Type")} in ${documented}`);
      await res.arrayBuffer();
    }
    const bodyTypes = Object.keys(op("/enhance", "post").requestBody!.content);
    for (const t of ["image/png", "image/jpeg", "image/webp", "image/avif", "multipart/form-data"]) assert.ok(bodyTypes.includes(t), t);
  });

  test("GET /health's body has exactly the documented fields", async () => {
    const body = (await (await fetch(`${worker.url}/health`)).json()) as Record<string, unknown>;
    const health = doc.components.schemas.Health!;
    const keys = (s: Schema) => Object.keys(s.properties ?? {}).sort();
    assert.deepEqual(Object.keys(body).sort(), keys(health));
    for (const part of ["model", "formats", "sources"]) {
      assert.deepEqual(Object.keys(body[part] as object).sort(), keys(health.properties![part]!), part);
    }
  });

  test("GET /enhance's parameters carry their ranges and defaults", () => {
    const params = Object.fromEntries(op("/enhance", "get").parameters!.map((p) => [p.name, p]));
    assert.equal(params.url?.required, true);
    assert.deepEqual([params.w?.schema.type, params.w?.schema.minimum, params.w?.schema.maximum], ["integer", 1, 8192]);
    assert.deepEqual([params.q?.schema.minimum, params.q?.schema.maximum], [1, 100]);
    assert.equal(params.format?.schema.default, "auto");
    assert.equal(params.strength?.schema.default, "auto");
    assert.equal(params.dpr?.schema.default, 1);
    assert.equal(params.orient?.schema.type, "boolean");
    const post = op("/enhance", "post").parameters!.map((p) => p.name);
    assert.ok(!post.includes("url"), "POST takes the image as its body, not a url");
  });

  test("the headers and error codes the Worker sends are the documented ones", async () => {
    const png = await encodePng(darkScene(40, 30));
    const res = await fetch(`${worker.url}/enhance?format=auto`, { method: "POST", body: png, headers: { "Content-Type": "image/png", Accept: "image/webp" } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const documented = Object.keys(op("/enhance", "post").responses["200"]!.headers ?? {}).map((h) => h.toLowerCase());
    const sent = [...res.headers.keys()].filter((h) => /^(x-enhance-|etag$|vary$|cache-control$|server-timing$|content-disposition$)/.test(h));
    assert.ok(sent.length >= 7, sent.join(","));
    for (const h of sent) assert.ok(documented.includes(h), `${h} is documented`);
    const contents = Object.keys(op("/enhance", "post").responses["200"]!.content ?? {});
    assert.ok(contents.includes(res.headers.get("Content-Type")!), `${res.headers.get("Content-Type")} is documented`);

    const codes = doc.components.schemas.Error!.properties!.error as unknown as { properties: { code: Schema } };
    const errors: Array<[Promise<Response>, number]> = [
      [fetch(`${worker.url}/enhance?url=${encodeURIComponent(SOURCE)}&w=0`), 400],
      [fetch(`${worker.url}/enhance?url=${encodeURIComponent("http://10.0.0.1/a.png")}`), 403],
      [fetch(`${worker.url}/enhance`, { method: "POST", body: "text", headers: { "Content-Type": "text/plain" } }), 415],
      [fetch(`${worker.url}/enhance`, { method: "POST", body: png.slice(0, 60), headers: { "Content-Type": "image/png" } }), 422],
    ];
    for (const [pending, status] of errors) {
      const r = await pending;
      assert.equal(r.status, status);
      assert.ok(op("/enhance", r.url.includes("url=") ? "get" : "post").responses[String(status)], `${status} is documented`);
      const e = await expectError(r);
      assert.ok(codes.properties.code.enum!.includes(e.code), `${e.code} is a documented code`);
      assert.deepEqual(Object.keys(e).filter((k) => !["code", "message", "param"].includes(k)), []);
    }
  });
});

describe("the Worker accepts exactly what the document allows", () => {
  test("GET/HEAD /enhance: every documented parameter in and out of range", async () => {
    const params = op("/enhance", "get").parameters!.filter((p) => p.in === "query" && p.name !== "url");
    assert.ok(params.length >= 10);
    const entry = fc.oneof(...params.map((p) => candidates(p.schema).map((v) => [p.name, v] as const)));
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(entry, { maxLength: 4, selector: ([name]) => name }), async (entries) => {
        const q = new URLSearchParams([["url", SOURCE], ...entries.map(([n, v]) => [n, v])]);
        const bad = entries.filter(([name, v]) => !allows(params.find((p) => p.name === name)!.schema, v)).map(([n]) => n);
        const head = await fetch(`${worker.url}/enhance?${q}`, { method: "HEAD" });
        if (bad.length === 0) {
          assert.equal(head.status, 200, `${q} is allowed by the document`);
          accepted++;
        } else {
          assert.equal(head.status, 400, `${q} is not allowed by the document (${bad.join(", ")})`);
          // GET says which: the 400 comes before any fetch.
          const e = await expectError(await fetch(`${worker.url}/enhance?${q}`));
          assert.equal(e.code, "bad_parameter");
          assert.ok(bad.includes(e.param!), `${e.param} is one of ${bad.join(", ")}: ${e.message}`);
          assert.match(e.message, new RegExp(`^${e.param}=".*" is not allowed; use `));
          refused++;
        }
      }),
      { numRuns: 150, ...SEED },
    );
    assert.ok(accepted > 20 && refused > 20, `both sides exercised: ${accepted} accepted, ${refused} refused`);
    assert.equal(outbound, 0, "no source was fetched");
  });

  test("names the document does not list, repeats, and a missing url are refused", async () => {
    const documented = new Set(op("/enhance", "get").parameters!.map((p) => p.name));
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[a-z_]{1,8}$/).filter((n) => !documented.has(n)), async (name) => {
        const e = await expectError(await fetch(`${worker.url}/enhance?url=${encodeURIComponent(SOURCE)}&${name}=1`));
        assert.equal(e.param, name);
        assert.match(e.message, /unknown parameter/);
      }),
      { numRuns: 25, ...SEED },
    );
    for (const name of documented) {
      if (name === "url") continue;
      const p = op("/enhance", "get").parameters!.find((x) => x.name === name)!;
      const value = String(p.schema.default ?? (p.schema.type === "string" ? "x" : p.schema.minimum ?? 1));
      const e = await expectError(await fetch(`${worker.url}/enhance?url=${encodeURIComponent(SOURCE)}&${name}=${value}&${name}=${value}`));
      assert.equal(e.param, name);
      assert.match(e.message, /more than once/);
    }
    const missing = await expectError(await fetch(`${worker.url}/enhance?w=10`));
    assert.equal(missing.param, "url");
  });

  test("POST /enhance: the same parameters, refused before the body is read; url is not one", async () => {
    const params = op("/enhance", "post").parameters!;
    const png = await encodePng(darkScene(16, 12));
    await fc.assert(
      fc.asyncProperty(fc.oneof(...params.map((p) => candidates(p.schema).map((v) => [p.name, v, allows(p.schema, v)] as const))), async ([name, v, ok]) => {
        // Bounds small enough that an accepted request stays cheap: only w/h may ask for big outputs.
        if (ok && (name === "w" || name === "h") && Number(v) > 64) return;
        const res = await fetch(`${worker.url}/enhance?${new URLSearchParams([[name, v]])}`, { method: "POST", body: png, headers: { "Content-Type": "image/png" } });
        if (ok) {
          assert.equal(res.status, 200, `${name}=${v}: ${res.status === 200 ? "" : await res.text()}`);
          await res.arrayBuffer();
        } else {
          assert.equal(res.status, 400, `${name}=${v}`);
          assert.equal((await expectError(res)).param, name);
        }
      }),
      { numRuns: 40, ...SEED },
    );
    const e = await expectError(await fetch(`${worker.url}/enhance?url=${encodeURIComponent(SOURCE)}`, { method: "POST", body: png }));
    assert.equal(e.param, "url");
  });
});
