import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { OutputDirError, realPathOf } from './output-dir.ts';
import { removeStaleTemps } from './stale-temps.ts';

/** Options of {@link checkOutputFile}. */
export interface OutputFileOptions {
  /** Files and folders the command reads: the output may not be one of them. */
  inputs?: readonly (string | undefined)[];
  /** Replace an existing file. A single file carries no marker, so this is the user's word alone. */
  overwrite?: boolean;
  /** The option to name in messages (default `--out`). */
  option?: string;
  /** Leave an existing file that already holds exactly these bytes (a rerun writes nothing new). */
  sameAs?: string | Uint8Array;
}

/**
 * Check a single output file before any work: never an input, never a folder, and an existing
 * file only with `overwrite` (or when it already holds `sameAs`). Also drops the temps of this
 * name that killed runs left beside it. Throws an `OutputDirError` (exit code 2).
 * Returns whether the file exists already.
 *
 * @example
 * await checkOutputFile('data/en/a.bin', { inputs: ['raw/a.jsonl'], overwrite: false, option: '--bin-output-path' });
 */
export async function checkOutputFile(path: string, o: OutputFileOptions = {}): Promise<boolean> {
  const opt = o.option ?? '--out';
  const real = realPathOf(path);
  for (const input of o.inputs ?? []) {
    if (input !== undefined && realPathOf(input) === real)
      throw new OutputDirError(`${opt} ${path} is the input ${input}; write the output to another file`);
  }
  await removeStaleTemps(dirname(resolve(path)), { of: basename(resolve(path)) });
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory())
    throw new OutputDirError(`${opt} ${path} is a folder; give the path of a file to write`);
  if (o.overwrite) return true;
  if (o.sameAs !== undefined && Buffer.from(o.sameAs).equals(readFileSync(path))) return true;
  throw new OutputDirError(`${opt} ${path} exists; pass --overwrite to replace it, or choose another path`);
}
