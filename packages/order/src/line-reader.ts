import { DataError, defineStage, fullGc, type OnError, type Reason, type StageStats } from '@weft/core';
import { openInputs, type InputOptions, type Inputs } from './inputs.ts';
import { lineText, splitLines, type RawLine } from './lines.ts';
import { checkMaxRecordBytes } from './record-size.ts';

const NO_BYTES = Buffer.alloc(0);

/** A reader's output: records, plus the counters of what it read (seen = emitted + rejected). */
export type CountedSource<T> = AsyncIterable<T> & { readonly stats: StageStats };

/** Options shared by every reader. */
export interface ReadOptions extends InputOptions {
  /** 'fail' (default): stop at the first bad line with a DataError. 'skip': count it and go on. */
  onError?: OnError;
  /**
   * The largest record (line) to read, in bytes; a longer one is a 'record-too-large' DataError
   * (or is skipped and counted), and is never held in memory whole. Default 256 MiB.
   */
  maxRecordBytes?: number;
}

/** What a line parser returns: a record, or `undefined` to drop the line (counted under `reason`). */
export type LineParser<R> = (text: string, raw: RawLine) => R | undefined;

/**
 * Build a counted reader over text lines: opens the inputs (files or URLs), splits lines, checks
 * UTF-8 and hands each line's text to `parse`, which throws a DataError for a bad line. One
 * counted item per line; an input that cannot be opened counts as one rejected item.
 *
 * @example
 * const read = lineReader('read-text', (t) => t === '' ? undefined : t, 'empty');
 * const lines = read(['a.txt'], { onError: 'skip' });
 */
export function lineReader<R>(name: string, parse: LineParser<R>, dropReason: Reason = 'empty') {
  return (inputs: Inputs, options: ReadOptions = {}): CountedSource<R> => {
    const limit = checkMaxRecordBytes(options.maxRecordBytes);
    const stage = defineStage<RawLine | DataError, R>(
      name,
      async function* (src, ctx) {
        for await (const item of src) {
          if (item instanceof DataError) {
            ctx.fail(item);
            continue;
          }
          let rec: R | undefined;
          try {
            const text = lineText(item, limit);
            // A huge line's bytes are done with once decoded: let them go before parsing (peak: text + record, not + bytes).
            if (item.bytes.length >= 1 << 20) {
              item.bytes = NO_BYTES;
              fullGc?.();
            }
            rec = parse(text, item);
          } catch (e) {
            if (!(e instanceof DataError)) throw e;
            ctx.fail(e);
            continue;
          }
          if (rec === undefined) ctx.drop(dropReason);
          else yield rec;
        }
      },
      { onError: options.onError ?? 'fail' },
    );
    return Object.assign(stage(linesOf(inputs, options)), { stats: stage.stats });
  };
}

/** Every line of every input in order; inputs that failed to open become DataError items; lines over `maxRecordBytes` come out empty with `tooLarge` set. */
export async function* linesOf(
  inputs: Inputs,
  options: InputOptions & { maxRecordBytes?: number } = {},
): AsyncIterable<RawLine | DataError> {
  const limit = checkMaxRecordBytes(options.maxRecordBytes);
  for await (const inp of openInputs(inputs, options)) {
    if ('error' in inp) {
      yield inp.error;
      continue;
    }
    for await (const batch of splitLines(inp.chunks, inp.file, limit, inp.first)) yield* batch;
  }
}

export { parseJsonLine } from './json-line.ts';
