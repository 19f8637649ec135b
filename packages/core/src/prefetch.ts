/** A stream that is already being read ahead of its consumer (see {@link prefetch}). */
export interface Prefetched<T> extends AsyncIterable<T> {
  /**
   * Stop reading ahead and drop what was read; the source is ended (its `return()`) once a read
   * in progress settles. Returns at once and never throws: a read that never settles (its pool was
   * closed) keeps nothing alive.
   */
  cancel(): void;
}

/**
 * Start reading `source` now, into a buffer of at most `limit` (each item weighs `weigh(x)`, 1 by
 * default), before anyone iterates it: the work behind it (a worker pool encoding the next input
 * file, say) runs while the consumer is still busy with something else. Items come out in source
 * order; an error of the source comes out where it happened, after the items before it. Iterate
 * it once; `cancel()` it if it will not be read to the end.
 *
 * @example
 * const next = prefetch(samplesOf(file2), { limit: 1 << 22, weigh: (s) => s.input_ids.length });
 * for await (const s of samplesOf(file1)) write(s); // file2 is being read and encoded meanwhile
 * for await (const s of next) write(s);
 */
export function prefetch<T>(
  source: AsyncIterable<T>,
  opts: { limit: number; weigh?: (x: T) => number },
): Prefetched<T> {
  if (!(opts.limit > 0)) throw new RangeError(`limit must be positive, got ${opts.limit}`);
  const weigh = opts.weigh ?? (() => 1);
  const it = source[Symbol.asyncIterator]();
  const buf: T[] = [];
  let head = 0;
  let weight = 0;
  let finished = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined; // the consumer, waiting for an item
  let room: (() => void) | undefined; // the reader, waiting for room
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const pump = (async () => {
    try {
      while (!stopped) {
        // Always let one item in, so an item heavier than the limit still passes.
        if (weight >= opts.limit && buf.length > head) {
          await new Promise<void>((r) => {
            room = r;
          });
          continue;
        }
        const r = await it.next();
        if (r.done) break;
        buf.push(r.value);
        weight += weigh(r.value);
        signal();
      }
    } catch (e) {
      failure = { error: e };
    }
    finished = true;
    signal();
  })();
  const cancel = (): void => {
    stopped = true;
    const r = room;
    room = undefined;
    r?.();
    buf.length = 0;
    head = 0;
    void pump.then(() => it.return?.()).catch(() => undefined);
  };
  return {
    async *[Symbol.asyncIterator]() {
      let ended = false;
      try {
        for (;;) {
          if (buf.length > head) {
            const x = buf[head]!;
            buf[head++] = undefined as T;
            if (head > 1024 && head * 2 > buf.length) {
              buf.splice(0, head);
              head = 0;
            }
            weight -= weigh(x);
            const r = room;
            room = undefined;
            r?.();
            yield x;
            continue;
          }
          if (finished) {
            ended = true;
            if (failure) throw failure.error;
            return;
          }
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      } finally {
        // The consumer stopped early (an error while writing, a break): stop reading ahead.
        if (!ended) cancel();
      }
    },
    cancel,
  };
}

/**
 * Items 0..n-1 opened in turn: item k+1's `open` starts when item k is handed out, so whatever it
 * sets going (a {@link prefetch}ed stream) overlaps the consumer's work on item k. If the consumer
 * stops early, `drop` gets the item opened ahead (to cancel it).
 *
 * @example
 * for await (const f of openedInTurn(files.length, (k) => openFile(k), (f) => f.samples.cancel())) await write(f);
 */
export async function* openedInTurn<T>(
  n: number,
  open: (k: number) => Promise<T>,
  drop: (t: T) => void,
): AsyncGenerator<T> {
  let next = n > 0 ? open(0) : undefined;
  try {
    for (let k = 0; k < n; k++) {
      const cur = await next!;
      next = k + 1 < n ? open(k + 1) : undefined;
      next?.catch(() => undefined); // its failure is reported when its turn comes
      yield cur;
    }
  } finally {
    if (next) await next.then(drop, () => undefined);
  }
}
