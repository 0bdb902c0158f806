/**
 * Training progress: on a terminal, one redrawn bar line (step, %, loss, ETA) with log lines printed
 * above it; elsewhere (CI, files, pipes), plain log lines only, so logs stay readable.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

export interface ProgressOptions {
  /** Default: whether stdout is a terminal. */
  tty?: boolean;
  /** Raw output for the bar (default process.stdout.write). */
  write?: (s: string) => void;
  /** Permanent lines (default console.log). */
  line?: (s: string) => void;
  width?: number;
}

export class Progress {
  private readonly tty: boolean;
  private readonly write: (s: string) => void;
  private readonly line: (s: string) => void;
  private readonly width: number;
  private readonly t0 = performance.now();
  private bar = "";

  /** `first`: the step this session starts at (resumed runs), for an ETA from this session's speed. */
  constructor(
    private readonly total: number,
    private readonly first: number,
    opts: ProgressOptions = {},
  ) {
    this.tty = opts.tty ?? Boolean(process.stdout.isTTY);
    this.write = opts.write ?? ((s) => process.stdout.write(s));
    this.line = opts.line ?? ((s) => console.log(s));
    this.width = opts.width ?? 28;
  }

  /** Seconds left at the current pace, after `done` steps in total. */
  eta(done: number): number {
    const n = done - this.first;
    if (n <= 0) return NaN;
    return ((performance.now() - this.t0) / 1000 / n) * (this.total - done);
  }

  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** After step `done` (1-based count of finished steps); redraws the bar on a terminal. */
  update(done: number, summary: string): void {
    if (!this.tty) return;
    const frac = Math.min(1, done / this.total);
    const filled = Math.round(frac * this.width);
    this.bar = `[${"#".repeat(filled)}${".".repeat(this.width - filled)}] ${done}/${this.total} ${(frac * 100).toFixed(0)}% ${summary} ETA ${formatDuration(this.eta(done))}`;
    this.write(`\r\x1b[2K${this.bar}`);
  }

  /** A permanent line (above the bar on a terminal). */
  log(line: string): void {
    if (!this.tty) return this.line(line);
    this.write("\r\x1b[2K");
    this.line(line);
    this.write(this.bar);
  }

  finish(): void {
    if (this.tty && this.bar) this.write("\n");
    this.bar = "";
  }
}
