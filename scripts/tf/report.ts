/**
 * The training report written next to the model: a loss-curve chart (SVG), a before/after sheet of
 * sample training images enhanced by the trained TF.js model (PNG), and an HTML page with both and the
 * run's settings, because people would rather look than read.
 */
import * as tf from "@tensorflow/tfjs";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode } from "../../src/image/codecs.ts";
import type { TfModel } from "./model.ts";
import type { TrainImage } from "./data.ts";

export interface HistoryEntry {
  step: number;
  tv: number;
  spa: number;
  col: number;
  exp: number;
  total: number;
  brightness: number;
  /** The weighted exposure-consistency term, when training with it. */
  cons?: number;
}

export const REPORT_FILES = { chart: "training-loss.svg", samples: "training-samples.png", html: "training-report.html" } as const;

const SERIES: { key: keyof HistoryEntry; label: string; color: string }[] = [
  { key: "total", label: "total", color: "#111111" },
  { key: "tv", label: "w·TV", color: "#1f77b4" },
  { key: "spa", label: "w·spa", color: "#2ca02c" },
  { key: "col", label: "w·col", color: "#d62728" },
  { key: "exp", label: "w·exp", color: "#ff7f0e" },
  { key: "cons", label: "w·cons", color: "#9467bd" },
];

/** Exponential moving average, so a noisy per-step curve shows its trend. */
function smooth(values: number[], alpha: number): number[] {
  let m = values[0] ?? 0;
  return values.map((v) => (m = alpha * v + (1 - alpha) * m));
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Weighted loss terms and their total against step, log-scale y, smoothed; brightness on a second axis. */
export function lossChartSvg(history: HistoryEntry[], title = "Training loss"): string {
  const W = 760;
  const H = 400;
  const m = { l: 64, r: 64, t: 36, b: 44 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  if (history.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="80"><text x="10" y="40" font-family="sans-serif">no training steps recorded</text></svg>\n`;
  }
  const steps = history.map((h) => h.step);
  const x0 = Math.min(...steps);
  const x1 = Math.max(x0 + 1, Math.max(...steps));
  const alpha = Math.min(1, 10 / history.length + 0.02);
  // Optional terms (cons) are drawn only when the run logged them.
  const series = SERIES.filter((s) => history.every((h) => h[s.key] !== undefined)).map((s) => ({
    ...s,
    values: smooth(history.map((h) => Math.max(1e-8, h[s.key] ?? 0)), alpha),
  }));
  const all = series.flatMap((s) => s.values);
  const lo = Math.floor(Math.log10(Math.min(...all)));
  const hi = Math.ceil(Math.log10(Math.max(...all)));
  const yMax = Math.max(hi, lo + 1);
  const sx = (step: number) => m.l + ((step - x0) / (x1 - x0)) * pw;
  const sy = (v: number) => m.t + ((yMax - Math.log10(v)) / (yMax - lo)) * ph;
  const by = (b: number) => m.t + (1 - b) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let e = lo; e <= yMax; e++) {
    const y = sy(10 ** e);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#ddd"/>`, `<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">1e${e}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const s = Math.round(x0 + ((x1 - x0) * i) / 5);
    out.push(`<text x="${sx(s)}" y="${m.t + ph + 18}" text-anchor="middle">${s}</text>`);
  }
  for (const b of [0, 0.5, 1]) out.push(`<text x="${m.l + pw + 6}" y="${by(b) + 4}" fill="#9467bd">${b}</text>`);
  out.push(
    `<text x="${m.l + pw / 2}" y="${H - 6}" text-anchor="middle">step</text>`,
    `<text x="${W - 14}" y="${m.t + ph / 2}" fill="#9467bd" transform="rotate(90 ${W - 14} ${m.t + ph / 2})" text-anchor="middle">mean brightness</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
  );
  const path = (pts: [number, number][]) => pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join("");
  for (const s of series) {
    out.push(`<path d="${path(s.values.map((v, i) => [sx(steps[i]!), sy(v)]))}" fill="none" stroke="${s.color}" stroke-width="${s.key === "total" ? 2 : 1.3}"/>`);
  }
  const bright = smooth(history.map((h) => h.brightness), alpha);
  out.push(`<path d="${path(bright.map((b, i) => [sx(steps[i]!), by(Math.min(1, Math.max(0, b)))]))}" fill="none" stroke="#9467bd" stroke-dasharray="4 3"/>`);
  [...series, { label: "brightness", color: "#9467bd" }].forEach((s, i) => {
    const x = m.l + 10 + i * 100;
    out.push(`<line x1="${x}" x2="${x + 18}" y1="${m.t + 12}" y2="${m.t + 12}" stroke="${s.color}" stroke-width="2"/>`, `<text x="${x + 22}" y="${m.t + 16}">${esc(s.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** RGBA sheet: one row per image, original | enhanced (image after all iterations). */
export async function samplesSheet(model: TfModel, images: TrainImage[]): Promise<{ width: number; height: number; data: Uint8Array }> {
  const gap = 4;
  const cellW = Math.max(...images.map((i) => i.width));
  const width = gap + 2 * (cellW + gap);
  const height = gap + images.reduce((a, i) => a + i.height + gap, 0);
  const data = new Uint8Array(width * height * 4).fill(255);
  let top = gap;
  for (const img of images) {
    const enhanced = tf.tidy(() => {
      const x = tf.tensor4d(img.rgb, [1, img.height, img.width, 3]);
      return tf.clipByValue(model.enhance(x, model.apply(x)).image8, 0, 1);
    });
    const after = (await enhanced.data()) as Float32Array;
    enhanced.dispose();
    for (const [col, src] of [img.rgb, after].entries()) {
      const left = gap + col * (cellW + gap);
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          const s = (y * img.width + x) * 3;
          const d = ((top + y) * width + left + x) * 4;
          data[d] = Math.round(src[s]! * 255);
          data[d + 1] = Math.round(src[s + 1]! * 255);
          data[d + 2] = Math.round(src[s + 2]! * 255);
          data[d + 3] = 255;
        }
      }
    }
    top += img.height + gap;
  }
  return { width, height, data };
}

/** Up to `n` images spread evenly over the data set. */
export function pickSamples(images: TrainImage[], n: number): TrainImage[] {
  if (images.length <= n) return images;
  return Array.from({ length: n }, (_, i) => images[Math.floor((i * images.length) / n)]!);
}

export interface ReportInput {
  outDir: string;
  model: TfModel;
  history: HistoryEntry[];
  samples: TrainImage[];
  /** Shown as a table: settings, data, timings. */
  summary: Record<string, unknown>;
  title: string;
}

/** Writes the chart, the sample sheet and the HTML page; returns their paths. Codecs must be initialised. */
export async function writeReport(r: ReportInput): Promise<string[]> {
  const chart = join(r.outDir, REPORT_FILES.chart);
  writeFileSync(chart, lossChartSvg(r.history, `${r.title}: weighted loss terms (smoothed)`));
  const sheet = await samplesSheet(r.model, r.samples);
  const png = join(r.outDir, REPORT_FILES.samples);
  writeFileSync(png, await encode(sheet, "png"));
  const rows = Object.entries(r.summary)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === "string" ? v : JSON.stringify(v))}</td></tr>`)
    .join("\n");
  const names = r.samples.map((s) => esc(s.name)).join(", ");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;padding:0 1em}th{text-align:left;padding-right:1em;vertical-align:top}td{font-family:monospace;word-break:break-all}img{max-width:100%}</style>
</head><body>
<h1>${esc(r.title)}</h1>
<h2>Loss</h2>
<img src="${REPORT_FILES.chart}" alt="loss curves">
<h2>Before / after (training images at training size)</h2>
<p>Left: input; right: the trained model's output (curves applied 8 times). Images: ${names}.</p>
<img src="${REPORT_FILES.samples}" alt="sample images before and after">
<h2>Run</h2>
<table>
${rows}
</table>
</body></html>
`;
  const page = join(r.outDir, REPORT_FILES.html);
  writeFileSync(page, html);
  return [page, chart, png];
}
