import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Stage } from './stage.ts';

/** Options for {@link parallelMap}. */
export interface ParallelMapOptions<A> {
  /**
   * Module (file URL or path) that exports `name`: a factory `(init: A) => (item) => result`.
   * The factory runs once per worker; the function it returns runs per item.
   */
  module: string | URL;
  name: string;
  /** Passed to the factory in each worker (structured-clone-able). */
  init: A;
  /** Worker threads. 0 runs the function in this thread (same results, no threads). */
  workers?: number;
  /** Items in flight per worker: larger hides latency, costs memory. */
  inFlightPerWorker?: number;
}

interface Job<O> {
  resolve: (v: O) => void;
  reject: (e: unknown) => void;
}

/** Default worker count: the machine's cores, at most 8. */
export function defaultWorkers(): number {
  return Math.min(8, availableParallelism());
}

const WORKER_URL = new URL('./parallel-boot.mjs', import.meta.url);

/**
 * Order-preserving parallel map over worker threads with bounded concurrency: output order equals
 * input order whatever the worker count, so N workers give the same bytes as 1.
 * Hand it batches (see `batch`) when the per-item work is small.
 *
 * @example
 * const encodeAll = parallelMap({ module: new URL('./encode-worker.ts', import.meta.url), name: 'create', init: opts, workers: 2 });
 * for await (const out of encodeAll(batches)) write(out);
 */
export function parallelMap<I, O, A>(options: ParallelMapOptions<A>): Stage<I, O> {
  const workers = options.workers ?? defaultWorkers();
  if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`workers must be a non-negative integer, got ${workers}`);
  const moduleUrl = options.module instanceof URL ? options.module.href : options.module.startsWith('file:') ? options.module : new URL(`file://${options.module}`).href;

  if (workers === 0) {
    return async function* (source) {
      const mod = (await import(moduleUrl)) as Record<string, (init: A) => (x: I) => O | Promise<O>>;
      const factory = mod[options.name];
      if (typeof factory !== 'function') throw new Error(`${moduleUrl} does not export a function named ${options.name}`);
      const fn = await factory(options.init);
      for await (const x of source) yield await fn(x);
    };
  }

  const window = workers * (options.inFlightPerWorker ?? 2);
  return async function* (source) {
    const pool: Worker[] = [];
    const pending = new Map<number, Job<O>>();
    let failure: unknown;
    for (let w = 0; w < workers; w++) {
      const worker = new Worker(WORKER_URL, {
        workerData: { module: moduleUrl, name: options.name, init: options.init },
        execArgv: [],
      });
      worker.on('message', (msg: { id: number; ok: boolean; value?: O; error?: { message: string; name: string; stack?: string; props?: Record<string, unknown> } }) => {
        const job = pending.get(msg.id);
        if (!job) return;
        pending.delete(msg.id);
        if (pending.size === 0) holdEventLoop(false);
        if (msg.ok) job.resolve(msg.value as O);
        else {
          const err = Object.assign(new Error(msg.error!.message), msg.error!.props ?? {});
          err.name = msg.error!.name;
          if (msg.error!.stack) err.stack = msg.error!.stack;
          job.reject(err);
        }
      });
      worker.on('error', (e) => {
        failure = e;
        for (const j of pending.values()) j.reject(e);
        pending.clear();
        holdEventLoop(false);
      });
      worker.unref();
      pool.push(worker);
    }
    // Workers are referenced only while jobs are in flight: a consumer waiting on them keeps the
    // process alive, and an abandoned iterator does not hold it open forever.
    let held = false;
    function holdEventLoop(on: boolean): void {
      if (on === held) return;
      held = on;
      for (const w of pool) if (on) w.ref(); else w.unref();
    }
    const queue: Promise<O>[] = [];
    let next = 0;
    const submit = (x: I): void => {
      const id = next++;
      const p = new Promise<O>((resolve, reject) => {
        if (failure) return reject(failure);
        pending.set(id, { resolve, reject });
        holdEventLoop(true);
      });
      p.catch(() => undefined); // observed later, in order
      pool[id % workers].postMessage({ id, item: x });
      queue.push(p);
    };
    try {
      for await (const x of source) {
        submit(x);
        if (queue.length >= window) yield await queue.shift()!;
      }
      while (queue.length > 0) yield await queue.shift()!;
    } finally {
      await Promise.all(pool.map((w) => w.terminate()));
    }
  };
}
