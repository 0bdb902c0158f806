/**
 * The layout as a rule: imports in src/ run one way (http -> engine -> image / source -> shared), no
 * import circle anywhere in src/ or scripts/, and the runtime's big dependencies have one owner each.
 * Imports are read with the TypeScript compiler's own pre-processor (type-only imports count: a circle
 * through types is still a circle for a reader).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

interface Imports {
  /** Project files this file imports (repository-relative, .ts only). */
  local: string[];
  /** Package specifiers. */
  packages: string[];
}

function importsOf(file: string): Imports {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true);
  const local: string[] = [];
  const packages: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (fileName.startsWith(".")) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), fileName));
      if (target.endsWith(".ts")) local.push(target);
    } else packages.push(fileName);
  }
  return { local, packages };
}

const FILES = [...sourceFiles("src"), ...sourceFiles("scripts")];
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

/** Every import circle, each as the path that closes it (Tarjan's strongly connected components). */
function circles(): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of GRAPH.get(v)?.local ?? []) {
      if (!GRAPH.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      const selfLoop = GRAPH.get(v)?.local.includes(v) ?? false;
      if (scc.length > 1 || selfLoop) found.push(scc.sort());
    }
  };
  for (const f of FILES) if (!index.has(f)) visit(f);
  return found;
}

/** The room a src/ file lives in: its first folder, or "top" for the entry, src/index.ts. */
function room(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts[1]! : "top";
}

/** What each room of src/ may import from (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  shared: [],
  image: ["shared"],
  source: ["shared"],
  engine: ["image", "shared"],
  config: ["engine", "source", "shared"],
  http: ["config", "engine", "image", "source", "shared"],
  top: ["http", "config", "engine", "image", "source", "shared"],
};

test("import graph: files were read (the check is not vacuous)", () => {
  assert.ok(GRAPH.size > 50, `read ${GRAPH.size} files`);
  assert.ok(GRAPH.get("src/http/app.ts")!.local.includes("src/shared/errors.ts"));
  assert.ok(GRAPH.get("src/engine/steps/decode.ts")!.local.includes("src/image/codecs.ts"));
});

test("no import circle in src/ or scripts/", () => {
  assert.deepEqual(circles(), [], "files that import each other in a circle");
});

test("the circle check finds a circle when there is one", () => {
  GRAPH.get("src/shared/image.ts")!.local.push("src/engine/pipeline.ts");
  try {
    const found = circles();
    assert.equal(found.length, 1);
    assert.ok(found[0]!.includes("src/shared/image.ts") && found[0]!.includes("src/engine/pipeline.ts"));
  } finally {
    GRAPH.get("src/shared/image.ts")!.local.pop();
  }
});

test("src/ imports run one way: http -> engine -> image / source -> shared", () => {
  const wrong: string[] = [];
  for (const [file, { local }] of GRAPH) {
    if (!file.startsWith("src/")) continue;
    const from = room(file);
    assert.ok(from in MAY_IMPORT, `${file} is in a folder the layout does not name (${from})`);
    for (const target of local) {
      if (!target.startsWith("src/")) {
        wrong.push(`${file} -> ${target} (src/ never imports scripts/ or test/)`);
        continue;
      }
      const to = room(target);
      if (to !== from && !MAY_IMPORT[from]!.includes(to)) wrong.push(`${file} -> ${target} (${from} may import ${MAY_IMPORT[from]!.join(", ") || "nothing of the project"})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("shared leaf types import nothing, not even packages", () => {
  for (const [file, { local, packages }] of GRAPH) {
    if (room(file) !== "shared") continue;
    assert.deepEqual([...local, ...packages], [], `${file} imports`);
  }
});

test("one owner each: onnxruntime-web, the codecs' JS, fetch of sources", () => {
  const owners = (prefix: string) =>
    [...GRAPH].filter(([f, { packages }]) => f.startsWith("src/") && packages.some((p) => p.startsWith(prefix) && !p.endsWith(".wasm"))).map(([f]) => f);
  assert.deepEqual(owners("onnxruntime-web"), ["src/engine/runtime.ts"]);
  assert.deepEqual(owners("@jsquash/"), ["src/image/codecs.ts"]);
  const fetching = FILES.filter((f) => f.startsWith("src/") && /(?<![.\w])fetch\(/.test(readFileSync(join(ROOT, f), "utf8")));
  assert.deepEqual(fetching, ["src/source/fetch.ts"]);
});
