/** Anything progress can be written to: stderr, or a fake in tests. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Options for {@link Progress}. */
export interface ProgressOptions {
  label: string;
  /** Known total of the main measure (items, or bytes with unit 'B'), for a percentage and an ETA. */
  total?: number;
  /** Unit of the main measure; 'B' prints bytes as kB/MB/GB. */
  unit?: string;
  /** Further counted quantities shown with their own rate, e.g. ['samples', 'tok']. */
  counters?: readonly string[];
  /** Whole units of work (files) whose count is shown, and which {@link Progress.reuse} counts as reused. */
  items?: { total: number; unit: string };
  /** Where to draw: defaults to stderr. A TTY gets a bar redrawn in place; anything else gets a plain line every `intervalMs`. */
  stream?: ProgressStream;
  /** Least time between two draws: 100 ms on a TTY; for plain lines WEFT_PROGRESS_INTERVAL seconds, else 10 s. */
  intervalMs?: number;
  /** Silence it entirely (tests, --quiet). */
  enabled?: boolean;
  /** Clock in ms (tests pass a fake one). */
  now?: () => number;
  /** Extra text shown after the counters. */
  extra?: () => string;
  /** Where reused items came from, after "reused N of M" (default `from an earlier run`; a merge says `merged from the shards`). */
  reusedFrom?: string;
}

const DEFAULT_PLAIN_INTERVAL_S = 10;

/** The plain-line interval: WEFT_PROGRESS_INTERVAL (seconds) when set, else 10 s. */
export function plainIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.WEFT_PROGRESS_INTERVAL;
  if (v === undefined || v === '') return DEFAULT_PLAIN_INTERVAL_S * 1000;
  const s = Number(v);
  if (!Number.isFinite(s) || s < 0)
    throw new Error(`WEFT_PROGRESS_INTERVAL must be a number of seconds >= 0, got "${v}"`);
  return s * 1000;
}

function fmtNum(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n > 0 && n < 10 && !Number.isInteger(n)) return n.toFixed(1);
  return `${Math.round(n)}`;
}

function fmtBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    sec = s % 60;
  const mm = String(m).padStart(2, '0'),
    ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** What {@link Progress.reuse} adds: the main measure, counters by name, and whole items. */
export interface ReusedWork {
  done?: number;
  counts?: Record<string, number>;
  items?: number;
}

/**
 * Progress on long work, one renderer for every command: a bar redrawn in place on a TTY, a plain
 * line every few seconds otherwise (logs, CI). It shows the main measure against its total (bytes
 * read of the input bytes, so the ETA holds in the middle of a file), rates that move while the
 * work is under way, extra counters with their own rates, and — on a resumed run — "reused N of M"
 * for work an earlier run finished. Reused work counts toward done but not toward the rate.
 *
 * @example
 * const p = new Progress({ label: 'process', total: inputBytes, unit: 'B', counters: ['samples', 'tok'], items: { total: files.length, unit: 'files' } });
 * p.reuse({ done: sizeOfA, counts: { samples: 1200 } });            // a file an earlier run finished
 * for await (const s of samples) { p.update(bytesBefore + s.source.offset); p.add('samples'); p.add('tok', s.input_ids.length); }
 * p.done();
 */
export class Progress {
  private n = 0;
  private reusedDone = 0;
  private readonly counts = new Map<string, number>();
  private readonly reusedCounts = new Map<string, number>();
  private itemsDone = 0;
  private itemsReused = 0;
  private readonly start: number;
  private last = -Infinity;
  private finished = false;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly enabled: boolean;
  private readonly now: () => number;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.enabled = opts.enabled ?? true;
    this.interval = opts.intervalMs ?? (this.tty ? 100 : this.enabled ? plainIntervalMs() : 0);
    this.now = opts.now ?? Date.now;
    this.start = this.now();
    for (const c of opts.counters ?? []) this.counts.set(c, 0);
  }

  /** The main measure so far. */
  get count(): number {
    return this.n;
  }

  /** The total of the main measure, when known. */
  get total(): number | undefined {
    return this.opts.total;
  }

  /** Advance the main measure. */
  tick(by = 1): void {
    this.n += by;
    this.maybeDraw();
  }

  /** Set the main measure (e.g. bytes read so far). */
  update(n: number): void {
    this.n = n;
    this.maybeDraw();
  }

  /** Advance a counter named in `counters`. */
  add(counter: string, by = 1): void {
    this.counts.set(counter, (this.counts.get(counter) ?? 0) + by);
    this.maybeDraw();
  }

  /** Count one whole item (a file) as finished by this run. */
  itemDone(by = 1): void {
    this.itemsDone += by;
    this.maybeDraw();
  }

  /** Work an earlier run finished: counted as done (one item unless told), kept out of the rates. */
  reuse(work: ReusedWork): void {
    const done = work.done ?? 0;
    this.n += done;
    this.reusedDone += done;
    for (const [k, v] of Object.entries(work.counts ?? {})) {
      this.counts.set(k, (this.counts.get(k) ?? 0) + v);
      this.reusedCounts.set(k, (this.reusedCounts.get(k) ?? 0) + v);
    }
    const items = work.items ?? 1;
    this.itemsDone += items;
    this.itemsReused += items;
    this.maybeDraw();
  }

  /** A one-off message (e.g. "reused packed/"), on its own line. */
  note(text: string): void {
    if (!this.enabled) return;
    this.stream.write(`${this.tty ? '\r\x1b[2K' : ''}${this.opts.label}: ${text}\n`);
    this.last = -Infinity; // redraw the bar after the message
  }

  /** The current line, without a bar (what a log gets). */
  line(final = false): string {
    return `${this.opts.label}: ${this.body(final)}`;
  }

  private body(final: boolean): string {
    const secs = Math.max((this.now() - this.start) / 1000, 1e-3);
    const rate = (this.n - this.reusedDone) / secs;
    const unit = this.opts.unit ?? 'items';
    const bytes = unit === 'B';
    const rateText = bytes ? `${fmtBytes(rate)}/s` : `${fmtNum(rate)} ${unit}/s`;
    const parts: string[] = [];
    const total = this.opts.total;
    if (total !== undefined && total > 0) {
      const frac = Math.min(this.n / total, 1);
      const left = Math.max(total - this.n, 0);
      const eta = left === 0 ? 0 : rate > 0 ? left / rate : Infinity;
      const amount = bytes ? `${fmtBytes(this.n)} of ${fmtBytes(total)}` : `${fmtNum(this.n)}/${fmtNum(total)} ${unit}`;
      parts.push(
        `${(frac * 100).toFixed(1)}% ${amount}, ${rateText}, ${final ? `took ${fmtTime(secs)}` : `ETA ${fmtTime(eta)}`}`,
      );
    } else {
      parts.push(
        `${bytes ? fmtBytes(this.n) : `${fmtNum(this.n)} ${unit}`}, ${rateText}, ${final ? 'took' : 'elapsed'} ${fmtTime(secs)}`,
      );
    }
    for (const [k, v] of this.counts) {
      const fresh = v - (this.reusedCounts.get(k) ?? 0);
      parts.push(`${fmtNum(v)} ${k} (${fmtNum(fresh / secs)}/s)`);
    }
    const items = this.opts.items;
    if (items) {
      let t = `${this.itemsDone}/${items.total} ${items.unit}`;
      if (this.itemsReused > 0)
        t += `, reused ${this.itemsReused} of ${items.total} ${this.opts.reusedFrom ?? 'from an earlier run'}`;
      parts.push(t);
    }
    if (this.opts.extra) parts.push(this.opts.extra());
    return parts.join(' | ');
  }

  /** A TTY line: label, a bar when the total is known, the text cut to the terminal's width. */
  private barLine(final: boolean): string {
    const text = this.body(final);
    const total = this.opts.total;
    const cols = this.stream.columns ?? 80;
    let line = `${this.opts.label}: ${text}`;
    if (total !== undefined && total > 0) {
      const width = Math.max(10, Math.min(30, cols - line.length - 4));
      const full = Math.round(Math.min(this.n / total, 1) * width);
      line = `${this.opts.label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${text}`;
    }
    return line.length > cols - 1 ? `${line.slice(0, Math.max(cols - 2, 1))}…` : line;
  }

  private maybeDraw(): void {
    if (!this.enabled || this.finished) return;
    const now = this.now();
    if (now - this.last < this.interval) return;
    this.last = now;
    this.draw(false);
  }

  private draw(final: boolean): void {
    if (this.tty) this.stream.write(`\r\x1b[2K${this.barLine(final)}${final ? '\n' : ''}`);
    else this.stream.write(`${this.line(final)}\n`);
  }

  /** The last line (with the time taken); later calls do nothing. */
  done(): void {
    if (!this.enabled || this.finished) return;
    this.finished = true;
    this.draw(true);
  }
}
