/**
 * Hold the event loop open while a stream is being drained. core's `parallelMap` unrefs its
 * worker threads, so a process whose only pending work is a worker's reply would exit early
 * (exit code 13, "unsettled top-level await"); this timer keeps it alive until the stream ends.
 *
 * @example
 * for await (const x of keepAlive(parallelMap(opts)(src))) write(x);
 */
export async function* keepAlive<T>(src: AsyncIterable<T>): AsyncIterable<T> {
  const timer = setInterval(() => undefined, 1 << 30);
  try {
    yield* src;
  } finally {
    clearInterval(timer);
  }
}
