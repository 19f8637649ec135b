import { checkOutputFile } from '@weft/core';

/**
 * Check a `.bin` output and its `.bin.meta` before any work (see `checkOutputFile` in core):
 * neither may be the input, and existing ones are replaced only with `overwrite`. Temps of
 * killed runs beside them are dropped.
 *
 * @example
 * await checkBinOutput('raw/a.jsonl', 'data/en/a.bin', { overwrite: false });
 */
export async function checkBinOutput(
  input: string,
  binPath: string,
  o: { overwrite?: boolean; option?: string },
): Promise<void> {
  const opts = { inputs: [input], overwrite: o.overwrite ?? false, option: o.option ?? '--bin-output-path' };
  await checkOutputFile(binPath, opts);
  await checkOutputFile(`${binPath}.meta`, opts);
}
