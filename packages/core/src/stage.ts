import type { OnError } from './errors.ts';
import { StageStats, type StageContext } from './stats.ts';

/** A stage is a plain function from one async iterable to another. */
export type Stage<I, O> = (source: AsyncIterable<I>) => AsyncIterable<O>;

/** A stage that carries its own counters. */
export type CountedStage<I, O> = Stage<I, O> & { readonly stats: StageStats };

/**
 * Build a counted stage: `seen` and `emitted` are counted around the body, which reports
 * rejections through `ctx`. The same stage object may be run once; its counters accumulate.
 *
 * @example
 * const nonEmpty = defineStage<string, string>('non-empty', async function* (src, ctx) {
 *   for await (const s of src) if (s) yield s; else ctx.drop('empty');
 * });
 */
export function defineStage<I, O>(
  name: string,
  body: (source: AsyncIterable<I>, ctx: StageContext) => AsyncIterable<O>,
  options: { onError?: OnError } = {},
): CountedStage<I, O> {
  const stats = new StageStats(name);
  const onError = options.onError ?? 'fail';
  const ctx: StageContext = {
    stats,
    fail(err) {
      if (onError === 'fail') throw err;
      stats.reject(err.reason, err.message);
    },
    drop(reason) {
      stats.reject(reason);
    },
  };
  async function* counting(source: AsyncIterable<I>): AsyncIterable<I> {
    for await (const x of source) {
      stats.seen++;
      yield x;
    }
  }
  const run = async function* (source: AsyncIterable<I>): AsyncIterable<O> {
    for await (const y of body(counting(source), ctx)) {
      stats.emitted++;
      yield y;
    }
  };
  return Object.assign(run, { stats });
}

/** A source: a stage that ignores its input (readers). */
export type Source<O> = AsyncIterable<O>;

/** Compose a source with stages, left to right. */
export function pipe<A>(source: AsyncIterable<A>): AsyncIterable<A>;
export function pipe<A, B>(source: AsyncIterable<A>, s1: Stage<A, B>): AsyncIterable<B>;
export function pipe<A, B, C>(source: AsyncIterable<A>, s1: Stage<A, B>, s2: Stage<B, C>): AsyncIterable<C>;
export function pipe<A, B, C, D>(
  source: AsyncIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
): AsyncIterable<D>;
export function pipe<A, B, C, D, E>(
  source: AsyncIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
  s4: Stage<D, E>,
): AsyncIterable<E>;
export function pipe<A, B, C, D, E, F>(
  source: AsyncIterable<A>,
  s1: Stage<A, B>,
  s2: Stage<B, C>,
  s3: Stage<C, D>,
  s4: Stage<D, E>,
  s5: Stage<E, F>,
): AsyncIterable<F>;
export function pipe(source: AsyncIterable<unknown>, ...stages: Stage<unknown, unknown>[]): AsyncIterable<unknown>;
export function pipe(source: AsyncIterable<unknown>, ...stages: Stage<unknown, unknown>[]): AsyncIterable<unknown> {
  return stages.reduce((acc, s) => s(acc), source);
}

/** Turn an array or any iterable into an async iterable. */
export async function* fromIterable<T>(items: Iterable<T> | AsyncIterable<T>): AsyncIterable<T> {
  yield* items as AsyncIterable<T>;
}

/** Drain an async iterable into an array (tests, small data). */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

/** Map each record (sync or async), in order. */
export function map<I, O>(fn: (x: I) => O | Promise<O>): Stage<I, O> {
  return async function* (source) {
    for await (const x of source) yield await fn(x);
  };
}

/** Keep records for which `pred` is true. */
export function filter<T>(pred: (x: T) => boolean): Stage<T, T> {
  return async function* (source) {
    for await (const x of source) if (pred(x)) yield x;
  };
}

/**
 * Group records into arrays of `size` (the last may be shorter).
 *
 * @example
 * for await (const b of batch<number>(2)(fromIterable([1, 2, 3]))) console.log(b); // [1,2] [3]
 */
export function batch<T>(size: number): Stage<T, T[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  return async function* (source) {
    let buf: T[] = [];
    for await (const x of source) {
      buf.push(x);
      if (buf.length === size) {
        yield buf;
        buf = [];
      }
    }
    if (buf.length > 0) yield buf;
  };
}

/** Flatten arrays back into records. */
export function unbatch<T>(): Stage<T[], T> {
  return async function* (source) {
    for await (const b of source) yield* b;
  };
}

/** Observe records without changing them (progress, counters). */
export function tap<T>(fn: (x: T) => void): Stage<T, T> {
  return async function* (source) {
    for await (const x of source) {
      fn(x);
      yield x;
    }
  };
}
