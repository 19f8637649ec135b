import { ArrowDatasetWriter, type ArrowDatasetWriterOptions, type WrittenFile } from './arrow-writer.ts';
import { RANGE_CUT } from './range-samples.ts';

/** Options of {@link arrowSink}: the writer's, plus what to do per row and what to add at the end. */
export interface ArrowSinkOptions<R> extends ArrowDatasetWriterOptions {
  /** Runs after each row is written (counters, progress); may wait (a test's throttle). */
  onRow?: (row: R) => void | Promise<void>;
  /** Extra files committed with the folder (name → text), made once every row is written. */
  extraFiles?: () => Record<string, string>;
}

/** What {@link arrowSink} wrote. */
export interface ArrowSinkResult {
  rows: number;
  fingerprint: string;
  files: WrittenFile[];
}

/**
 * The end of a pipe: every row of `source` into a new Arrow dataset folder at `dir` (HF
 * `save_to_disk` layout), committed whole at the end; a {@link RANGE_CUT} in the stream ends the
 * current Arrow file there. If the source or `onRow` fails, nothing appears at `dir` (its temp
 * folder is removed) and the error is rethrown. The one writer loop of `weft process`, its
 * shards and `weft pack`.
 *
 * @example
 * const { rows } = await arrowSink(samples, 'out/samples/0', { columns: ['input_ids', 'labels'], onRow: (s) => bar.add('samples') });
 */
export async function arrowSink<R extends object>(
  source: AsyncIterable<R | typeof RANGE_CUT>,
  dir: string,
  opts: ArrowSinkOptions<R>,
): Promise<ArrowSinkResult> {
  const w = await ArrowDatasetWriter.create(dir, opts);
  try {
    for await (const row of source) {
      if (row === RANGE_CUT) {
        await w.cut();
        continue;
      }
      await w.write(row as unknown as Record<string, Int32Array>);
      await opts.onRow?.(row);
    }
  } catch (e) {
    await w.abort();
    throw e;
  }
  const res = await w.finish(opts.extraFiles?.() ?? {});
  return { rows: res.rows, fingerprint: res.fingerprint, files: res.files };
}
