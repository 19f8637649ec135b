import type { Pack } from '@weft/core';
import { BinSource } from './bin-source.ts';
import { packLengthSeeded, type PackedFile } from './length-seeded.ts';

/** What a packing worker needs to rebuild the per-file plans on its own. */
export interface PackWorkerInit {
  files: string[];
  minLength: number;
  packedLength: number;
  seed: number;
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
      current = { file, packed: BinSource.open(init.files[file]!, init.minLength).then((s) => packLengthSeeded(s, init)) };
    }
    return (await current.packed).get(pack);
  };
}
