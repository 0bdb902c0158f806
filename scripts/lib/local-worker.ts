/**
 * Runs the exact deployable bundle (`wrangler deploy --dry-run`) in workerd through Miniflare, for the
 * integration tests and the benchmark. Build once per process; start one Worker per configuration.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Miniflare, type MiniflareOptions } from "miniflare";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const bundles = new Map<string, Promise<string>>();

/**
 * Builds the bundle of the project at `root` (default: this one) with wrangler into a temporary folder,
 * memoised per root and process; returns the folder.
 */
export function buildWorker(root: string = ROOT): Promise<string> {
  let bundle = bundles.get(root);
  if (!bundle) {
    bundle = (async () => {
      const outdir = await mkdtemp(join(tmpdir(), "lowlight-bundle-"));
      await promisify(execFile)(join(root, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
        cwd: root,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
      });
      return outdir;
    })();
    bundles.set(root, bundle);
  }
  return bundle;
}

export interface StartOptions {
  /** Project folder to bundle and serve (default: this repository), e.g. a copy that trained its own model. */
  root?: string;
  /** Worker vars (as wrangler.toml [vars] / secrets would give them). */
  vars?: Record<string, string>;
  /** Handles every subrequest the Worker makes (Miniflare outboundService); default: the real network. */
  outbound?: (request: Request) => Response | Promise<Response>;
  /** Workers Cache API on (default) or off: a benchmark repeating one GET wants it off. */
  cache?: boolean;
  /** R2 bucket bindings (in memory), as wrangler.toml's [[r2_buckets]] would give them. */
  r2Buckets?: string[];
  /** Rate-limiting bindings, as wrangler.toml's [[ratelimits]] would give them. */
  ratelimits?: Record<string, { simple: { limit: number; period?: 10 | 60 } }>;
  /**
   * Receives every line the Worker logs (console.log/warn/error), e.g. to check the request log.
   * Without it the lines are dropped, unless the environment variable WORKER_LOGS is set.
   */
  onLog?: (line: string) => void;
}

export interface StartedWorker {
  /** Base URL, e.g. http://127.0.0.1:43123 (no trailing slash). */
  url: string;
  /** The Miniflare instance, for tests that look into bindings (R2). */
  mf: Miniflare;
  dispose(): Promise<void>;
}

/** Starts the bundled Worker in workerd on a free loopback port. */
export async function startWorker(opts: StartOptions = {}): Promise<StartedWorker> {
  const root = opts.root ?? ROOT;
  const dir = await buildWorker(root);
  // Miniflare from Node needs every module listed (it rejects ORT's unused dynamic import otherwise).
  const modules: Array<{ type: "ESModule" | "CompiledWasm" | "Data" | "Text"; path: string }> = [];
  for (const f of await readdir(dir)) {
    // wrangler names the modules its rules attached with a content-hash prefix; .js and .css ones
    // are the Text rule's browser assets, not code for the Worker.
    if (/^[0-9a-f]{40}-.*\.(js|css)$/.test(f)) modules.push({ type: "Text", path: join(dir, f) });
    else if (f.endsWith(".js")) modules.push({ type: "ESModule", path: join(dir, f) });
    else if (f.endsWith(".wasm")) modules.push({ type: "CompiledWasm", path: join(dir, f) });
    else if (f.endsWith(".onnx")) modules.push({ type: "Data", path: join(dir, f) });
  }
  modules.sort((a, b) => Number(b.path.endsWith("index.js")) - Number(a.path.endsWith("index.js")));
  const toml = await readFile(join(root, "wrangler.toml"), "utf8");
  const compatibilityDate = /compatibility_date\s*=\s*"([^"]+)"/.exec(toml)?.[1] ?? "2026-04-26";
  const options: MiniflareOptions = {
    modules,
    modulesRoot: dir,
    compatibilityDate,
    bindings: opts.vars ?? {},
    cache: opts.cache ?? true,
    ...(opts.ratelimits ? { ratelimits: opts.ratelimits } : {}),
    ...(opts.r2Buckets ? { r2Buckets: opts.r2Buckets } : {}),
    // The Worker's log lines go to onLog when given; otherwise they are dropped (a test run would print
    // one per request) unless WORKER_LOGS is set, which prints them as workerd writes them.
    ...(opts.onLog || !process.env.WORKER_LOGS
      ? {
          handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
            for (const stream of [stdout, stderr]) {
              let rest = "";
              stream.on("data", (chunk: Buffer) => {
                if (!opts.onLog) return;
                const lines = (rest + chunk.toString("utf8")).split("\n");
                rest = lines.pop() ?? "";
                for (const l of lines) opts.onLog(l);
              });
            }
          },
        }
      : {}),
    host: "127.0.0.1",
    port: 0,
  };
  if (opts.outbound) {
    const handler = opts.outbound;
    // Miniflare passes undici Requests; the handler sees them as standard Requests.
    (options as { outboundService?: unknown }).outboundService = (req: Request) => handler(req);
  }
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, mf, dispose: () => mf.dispose() };
}
