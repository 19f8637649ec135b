import type { Pack } from '@weft/core';
import { BinSource } from './bin-source.ts';
import { packLengthSeeded, type PackedFile } from './length-seeded.ts';

/** What a packing worker needs to rebuild the per-file plans on its own. */
export interface PackWorkerInit {
  files: string[];
  minLength: number;
  packedLength: number;
  seed: number;
  /** Per file: the `.bin` lines kept and their lengths (after min_length and skipped bad lines), so workers pack the same samples. */
  rows?: Int32Array[];
  lengths?: Int32Array[];
}

/**
 * Worker factory for `parallelMap`: builds pack `pack` of file `file` (indices into `init.files`).
 * Each worker recomputes a file's plan from its `.meta` (cheap next to reading the tokens) and
 * keeps one file open at a time.
 */
export function createPackBuilder(init: PackWorkerInit): (job: { file: number; pack: number }) => Promise<Pack> {
  let current: { file: number; packed: Promise<PackedFile> } | undefined;
  return async ({ file, pack }) => {
    if (current?.file !== file) {
      if (current) await (await current.packed).source.close?.();
      const source = init.rows && init.lengths
        ? Promise.resolve(new BinSource(init.files[file]!, init.lengths[file]!, init.rows[file]!))
        : BinSource.open(init.files[file]!, init.minLength);
      current = { file, packed: source.then((s) => packLengthSeeded(s, init)) };
    }
    return (await current.packed).get(pack);
  };
}
