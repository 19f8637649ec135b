import pLimit from 'p-limit';
import type { Stage } from './stage.ts';

/**
 * Order-preserving async map in this thread with at most `concurrency` calls in flight (I/O-bound
 * work such as HTTP fetches). Results come out in input order.
 *
 * @example
 * const fetched = mapConcurrent((url: string) => fetchText(url), { concurrency: 4 });
 */
export function mapConcurrent<I, O>(fn: (x: I) => Promise<O>, options: { concurrency: number }): Stage<I, O> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  return async function* (source) {
    const limit = pLimit(options.concurrency);
    const queue: Promise<O>[] = [];
    for await (const x of source) {
      const p = limit(() => fn(x));
      p.catch(() => undefined);
      queue.push(p);
      if (queue.length >= options.concurrency * 2) yield await queue.shift()!;
    }
    while (queue.length > 0) yield await queue.shift()!;
  };
}
