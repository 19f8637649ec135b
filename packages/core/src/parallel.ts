import { Worker, type TransferListItem } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Stage } from './stage.ts';

/** Options for {@link parallelMap} and {@link WorkerPool}. */
export interface ParallelMapOptions<A, I = unknown> {
  /**
   * Module (file URL or path) that exports `name`: a factory `(init: A) => (item) => result`.
   * The factory runs once per worker; the function it returns runs per item.
   */
  module: string | URL;
  name: string;
  /** Passed to the factory in each worker (structured-clone-able). */
  init: A;
  /** Worker threads (default {@link defaultWorkers}). 0 runs the function in this thread (same results, no threads). */
  workers?: number;
  /** Items in flight per worker: larger hides latency, costs memory. */
  inFlightPerWorker?: number;
  /**
   * Items one worker runs at once (default 1: strictly one after another). 2 lets an async
   * function (a native call on another thread) overlap with the worker's own JavaScript work on
   * the next item. Results are matched by id, so order never depends on it.
   */
  concurrencyPerWorker?: number;
  /**
   * Buffers of an item to move to its worker instead of copying (the item must not use them
   * afterwards): a batch of raw input bytes, say. Default: every item is copied.
   */
  transfer?: (item: I) => TransferListItem[];
}

interface Job<O> {
  resolve: (v: O) => void;
  reject: (e: unknown) => void;
  worker: number;
}

interface Reply<O> {
  id: number;
  ok: boolean;
  value?: O;
  error?: { message: string; name: string; stack?: string; props?: Record<string, unknown> };
}

/**
 * Default worker count: every core this process may use (`os.availableParallelism()`, which
 * honours CPU affinity and cgroup limits), so a job uses the machine it lands on.
 */
export function defaultWorkers(): number {
  return availableParallelism();
}

const WORKER_URL = new URL('./parallel-boot.mjs', import.meta.url);

function moduleHref(m: string | URL): string {
  return m instanceof URL ? m.href : m.startsWith('file:') ? m : new URL(`file://${m}`).href;
}

function checkWorkers(workers: number): void {
  if (!Number.isInteger(workers) || workers < 0)
    throw new RangeError(`workers must be a non-negative integer, got ${workers}`);
}

/**
 * A set of worker threads that stays up across many {@link WorkerPool.map} runs: the factory
 * (a tokenizer load, say) runs once per worker for the whole job, not once per input file.
 * Each run is order-preserving with a bounded window; items go to the worker with the fewest in
 * flight, so one slow item does not stall a fixed round-robin slot. Idle workers do not keep the
 * process alive; `close()` ends them.
 *
 * @example
 * const pool = new WorkerPool<string[], Int32Array[], Init>({ module: new URL('./w.ts', import.meta.url), name: 'create', init, workers: 4 });
 * for (const file of files) for await (const out of pool.map(batchesOf(file))) write(out);
 * await pool.close();
 */
export class WorkerPool<I, O, A = unknown> {
  readonly workers: number;
  private readonly pool: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Job<O>>();
  private readonly window: number;
  private next = 0;
  private held = false;
  private failure: unknown;
  private closed = false;

  private readonly transfer: ((item: I) => TransferListItem[]) | undefined;

  constructor(options: ParallelMapOptions<A, I>) {
    const workers = options.workers ?? defaultWorkers();
    checkWorkers(workers);
    if (workers === 0)
      throw new RangeError(
        'a WorkerPool needs at least one worker (use parallelMap with workers: 0 to run in this thread)',
      );
    this.workers = workers;
    this.transfer = options.transfer;
    this.window = workers * (options.inFlightPerWorker ?? 2);
    const data = {
      module: moduleHref(options.module),
      name: options.name,
      init: options.init,
      concurrency: options.concurrencyPerWorker ?? 1,
    };
    for (let w = 0; w < workers; w++) {
      const worker = new Worker(WORKER_URL, { workerData: data, execArgv: [] });
      worker.on('message', (msg: Reply<O>) => this.settle(msg));
      worker.on('error', (e) => this.fail(e));
      worker.unref();
      this.pool.push(worker);
      this.load.push(0);
    }
  }

  private settle(msg: Reply<O>): void {
    const job = this.pending.get(msg.id);
    if (!job) return;
    this.pending.delete(msg.id);
    this.load[job.worker]!--;
    if (this.pending.size === 0) this.holdEventLoop(false);
    if (msg.ok) job.resolve(msg.value as O);
    else {
      const err = Object.assign(new Error(msg.error!.message), msg.error!.props ?? {});
      err.name = msg.error!.name;
      if (msg.error!.stack) err.stack = msg.error!.stack;
      job.reject(err);
    }
  }

  private fail(e: unknown): void {
    this.failure = e;
    for (const j of this.pending.values()) j.reject(e);
    this.pending.clear();
    this.holdEventLoop(false);
  }

  // Workers are referenced only while jobs are in flight: a consumer waiting on them keeps the
  // process alive, and an abandoned iterator or an idle pool does not hold it open forever.
  private holdEventLoop(on: boolean): void {
    if (on === this.held) return;
    this.held = on;
    for (const w of this.pool)
      if (on) w.ref();
      else w.unref();
  }

  private submit(x: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('WorkerPool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    let worker = 0;
    for (let w = 1; w < this.workers; w++) if (this.load[w]! < this.load[worker]!) worker = w;
    const p = new Promise<O>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
    });
    this.load[worker]!++;
    this.holdEventLoop(true);
    p.catch(() => undefined); // observed later, in order
    this.pool[worker]!.postMessage({ id, item: x }, this.transfer?.(x) ?? []);
    return p;
  }

  /**
   * One item on the least-busy worker. The caller keeps its own order and its own bound on what
   * is in flight (a scheduler of whole units of work that keeps each worker on one item).
   */
  run(x: I): Promise<O> {
    return this.submit(x);
  }

  /**
   * Map a stream through the workers; results come out in input order. Several runs may be under
   * way at once (the next input file's while this one's ends): they share the workers, each keeps
   * its own order and window.
   */
  map: Stage<I, O> = (source) => {
    const self = this;
    return (async function* () {
      const queue: Promise<O>[] = [];
      for await (const x of source) {
        queue.push(self.submit(x));
        if (queue.length >= self.window) yield await queue.shift()!;
      }
      while (queue.length > 0) yield await queue.shift()!;
    })();
  };

  /** End the workers (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}

/**
 * Order-preserving parallel map over worker threads with bounded concurrency: output order equals
 * input order whatever the worker count, so N workers give the same bytes as 1.
 * Hand it batches (see `batch`) when the per-item work is small. Starts its workers for this run
 * and ends them after; use a {@link WorkerPool} to keep them across runs.
 *
 * @example
 * const encodeAll = parallelMap({ module: new URL('./encode-worker.ts', import.meta.url), name: 'create', init: opts, workers: 2 });
 * for await (const out of encodeAll(batches)) write(out);
 */
export function parallelMap<I, O, A>(options: ParallelMapOptions<A, I>): Stage<I, O> {
  const workers = options.workers ?? defaultWorkers();
  checkWorkers(workers);
  if (workers === 0) {
    const moduleUrl = moduleHref(options.module);
    return async function* (source) {
      const mod = (await import(moduleUrl)) as Record<string, (init: A) => (x: I) => O | Promise<O>>;
      const factory = mod[options.name];
      if (typeof factory !== 'function')
        throw new Error(`${moduleUrl} does not export a function named ${options.name}`);
      const fn = await factory(options.init);
      for await (const x of source) yield await fn(x);
    };
  }
  return async function* (source) {
    const pool = new WorkerPool<I, O, A>({ ...options, workers });
    try {
      yield* pool.map(source);
    } finally {
      await pool.close();
    }
  };
}
