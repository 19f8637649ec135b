/** Options for {@link Progress}. */
export interface ProgressOptions {
  label: string;
  /** Known total (items or bytes), for a percentage and an ETA. */
  total?: number;
  unit?: string;
  /** Where to draw: defaults to stderr. A TTY gets a bar redrawn in place; anything else gets a line every `intervalMs`. */
  stream?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number };
  intervalMs?: number;
  /** Silence it entirely (tests, --quiet). */
  enabled?: boolean;
  /** Extra counters shown beside the main one, e.g. tokens. */
  extra?: () => string;
}

function fmtNum(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, '0'), ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * Progress on long work: a bar with rate and ETA on a TTY, plain periodic lines otherwise.
 *
 * @example
 * const p = new Progress({ label: 'tokenize', total: files.length, unit: 'files' });
 * for (const f of files) { await work(f); p.tick(); }
 * p.done();
 */
export class Progress {
  private n = 0;
  private readonly start = Date.now();
  private last = 0;
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly enabled: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.interval = opts.intervalMs ?? (this.tty ? 100 : 5000);
    this.enabled = opts.enabled ?? true;
  }

  get count(): number {
    return this.n;
  }

  tick(by = 1): void {
    this.n += by;
    const now = Date.now();
    if (this.enabled && now - this.last >= this.interval) {
      this.last = now;
      this.draw(false);
    }
  }

  /** Set the absolute count. */
  update(n: number): void {
    this.tick(n - this.n);
  }

  line(): string {
    const secs = Math.max((Date.now() - this.start) / 1000, 1e-3);
    const rate = this.n / secs;
    const unit = this.opts.unit ?? 'items';
    const extra = this.opts.extra ? ` ${this.opts.extra()}` : '';
    if (this.opts.total !== undefined && this.opts.total > 0) {
      const frac = Math.min(this.n / this.opts.total, 1);
      const eta = rate > 0 ? (this.opts.total - this.n) / rate : Infinity;
      const pct = `${(frac * 100).toFixed(1)}%`.padStart(6);
      const tail = `${fmtNum(this.n)}/${fmtNum(this.opts.total)} ${unit} ${fmtNum(rate)} ${unit}/s ETA ${fmtTime(eta)}${extra}`;
      if (!this.tty) return `${this.opts.label}: ${pct} ${tail}`;
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - this.opts.label.length - tail.length - 12));
      const full = Math.round(frac * width);
      return `${this.opts.label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct} ${tail}`;
    }
    return `${this.opts.label}: ${fmtNum(this.n)} ${unit} ${fmtNum(rate)} ${unit}/s elapsed ${fmtTime(secs)}${extra}`;
  }

  private draw(final: boolean): void {
    const text = this.line();
    if (this.tty) this.stream.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else this.stream.write(`${text}\n`);
  }

  done(): void {
    if (this.enabled) this.draw(true);
  }
}
