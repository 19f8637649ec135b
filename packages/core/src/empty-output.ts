import { DataError } from './errors.ts';

/** What a run read and wrote, for {@link emptyOutputProblem}. */
export interface OutputCounts {
  /** The input, as the user named it. */
  input: string;
  /** Records read from the input. */
  read: number;
  /** Records written (or handed to the packer). */
  kept: number;
  /** Packing runs only: packs made, tokens that went in, and the pack length. */
  packs?: number | null;
  tokens?: number;
  packedLength?: number | null;
}

/**
 * Why a run's output is empty, in words that say what to do, or undefined when it is not.
 *
 * @example
 * emptyOutputProblem({ input: 'data', read: 3, kept: 3, packs: 0, tokens: 90, packedLength: 8192 });
 * // 'data: no packs: the 90 tokens kept are fewer than one pack of --packed-length 8192 ...'
 */
export function emptyOutputProblem(c: OutputCounts): string | undefined {
  if (c.read === 0)
    return `${c.input}: no records in the input (empty file, or no data lines): the output holds nothing`;
  if (c.kept === 0)
    return `${c.input}: all ${c.read} records were left out (see "skipped" / the skipped counts): the output holds nothing`;
  if (c.packs === 0) {
    return (
      `${c.input}: no packs: the ${c.tokens ?? 0} tokens kept are fewer than one pack of --packed-length ${c.packedLength ?? '?'} ` +
      "(each file's tail that does not fill a pack is dropped, as xtuner does); lower --packed-length"
    );
  }
  return undefined;
}

/**
 * Say loudly when a run wrote nothing useful: a warning on stderr, or with `strict` a DataError
 * (weft exits 2). A job that silently makes zero packs would otherwise train on nothing.
 *
 * @example
 * checkOutputNotEmpty({ input: 'data', read: summary.read, kept: summary.kept, packs: summary.packs }, { strict: o.strict });
 */
export function checkOutputNotEmpty(
  c: OutputCounts,
  options: { strict?: boolean; writeErr?: (s: string) => void } = {},
): void {
  const problem = emptyOutputProblem(c);
  if (problem === undefined) return;
  if (options.strict)
    throw new DataError(
      `${problem.slice(c.input.length + 2)} (--strict)`,
      { file: c.input },
      { reason: 'empty-output' },
    );
  (options.writeErr ?? ((s: string) => process.stderr.write(s)))(`weft: WARNING: ${problem}\n`);
}
