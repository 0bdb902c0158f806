/**
 * npm run load: drives the local Worker (the deployable bundle in workerd, Cache API off) with mixed
 * requests at a fixed concurrency: small, medium and 1 MP sources, PNG and JPEG, thumbnails and
 * full-size outputs. Prints p50/p99 latency, throughput and the Worker's WASM memory from /health
 * before and after. Exit code 1 on any non-200 answer.
 */
import { startWorker } from "./lib/local-worker.ts";
import { initNodeCodecs } from "./lib/node-engine.ts";
import { encode } from "../src/image/codecs.ts";
import { makeImage, type RgbaImage } from "../src/shared/image.ts";
import { mulberry32 } from "../src/shared/rng.ts";
import type { ImageFormat } from "../src/shared/image.ts";
import { parseCli, positiveInt, usageError, type Fail } from "./lib/cli.ts";

const HELP = `Usage: npm run load -- [--requests N] [--concurrency C]

  --requests N     total requests (default 400)
  --concurrency C  requests in flight at once (default 8)`;

const fail: Fail = usageError("load");
const { values } = parseCli("load", HELP, {
  options: {
    requests: { type: "string", default: "400" },
    concurrency: { type: "string", default: "8" },
    help: { type: "boolean", short: "h" },
  },
});
const total = positiveInt(values.requests, "--requests", fail)!;
const concurrency = positiveInt(values.concurrency, "--concurrency", fail)!;

function scene(width: number, height: number, seed: number): RgbaImage {
  const img = makeImage(width, height);
  const rand = mulberry32(seed);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      const v = 25 + 20 * Math.sin(x / 41) * Math.cos(y / 29) + (rand() - 0.5) * 16;
      img.data[i] = v * 1.1;
      img.data[i + 1] = v;
      img.data[i + 2] = v * 0.8;
      img.data[i + 3] = 255;
    }
  }
  return img;
}

await initNodeCodecs();
const sources: Record<string, { bytes: Uint8Array; format: ImageFormat }> = {};
for (const [name, w, h] of [["small", 320, 240], ["medium", 800, 600], ["1mp", 1224, 816]] as const) {
  for (const format of ["jpeg", "png"] as const) {
    sources[`${name}.${format}`] = { bytes: await encode(scene(w, h, w), format, { quality: 88 }), format };
  }
}
const QUERIES = ["", "w=256", "w=512&format=jpeg", "w=128&h=128&fit=cover", "strength=0", "format=png&w=400"];
const mix = Object.keys(sources).flatMap((s) => QUERIES.map((q) => ({ source: s, query: q })));

const worker = await startWorker({ cache: false });
type Health = { wasmMemory: { total: number; ort: number; png: number; jpegDec: number; jpegEnc: number; resize: number; pixels: number; peak: Record<string, number> } };
const health = async (): Promise<Health["wasmMemory"]> => ((await (await fetch(`${worker.url}/health`)).json()) as Health).wasmMemory;
const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
const showMemory = (label: string, m: Health["wasmMemory"]): void =>
  console.log(
    `${label}: WASM ${mb(m.total)} MB (ort ${mb(m.ort)}, png ${mb(m.png)}, jpegDec ${mb(m.jpegDec)}, jpegEnc ${mb(m.jpegEnc)}, resize ${mb(m.resize)}, pixels ${mb(m.pixels)}); ` +
      `largest per-job heaps: ${Object.entries(m.peak).map(([k, v]) => `${k} ${mb(v)}`).join(", ")} MB`,
  );

try {
  // One warm-up request: the first one in an isolate creates the ORT session.
  await fetch(`${worker.url}/enhance`, { method: "POST", headers: { "Content-Type": "image/jpeg" }, body: sources["small.jpeg"]!.bytes as unknown as BodyInit });
  showMemory("before", await health());
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < total; i = next++) {
        const { source, query } = mix[(i * 7) % mix.length]!;
        const src = sources[source]!;
        const t = performance.now();
        const res = await fetch(`${worker.url}/enhance${query ? `?${query}` : ""}`, {
          method: "POST",
          headers: { "Content-Type": `image/${src.format}` },
          body: src.bytes as unknown as BodyInit,
        });
        const body = await res.arrayBuffer();
        latencies.push(performance.now() - t);
        if (res.status !== 200) errors.push(`${source} ?${query}: ${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
  console.log(
    `${total} requests at concurrency ${concurrency}: ${errors.length} errors; p50 ${pct(50).toFixed(0)} ms, ` +
      `p99 ${pct(99).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms; ${(total / seconds).toFixed(1)} req/s over ${seconds.toFixed(1)} s`,
  );
  showMemory("after", await health());
  for (const e of errors.slice(0, 10)) console.error(e);
  process.exitCode = errors.length > 0 ? 1 : 0;
} finally {
  await worker.dispose();
}
