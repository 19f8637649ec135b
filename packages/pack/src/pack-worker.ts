import { readBinMeta } from '@weft/order';
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
  /** Per file, the token sidecar the main thread found or built (null: read the JSON). */
  cachePaths?: (string | null)[];
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
      const path = init.files[file]!,
        cachePath = init.cachePaths?.[file] ?? undefined;
      const source =
        init.rows && init.lengths
          ? cachePath
            ? readBinMeta(path).then(
                (meta) => new BinSource(path, init.lengths![file]!, init.rows![file]!, undefined, cachePath, meta),
              )
            : Promise.resolve(new BinSource(path, init.lengths[file]!, init.rows[file]!))
          : BinSource.open(path, init.minLength, cachePath ? { cachePath } : {});
      current = { file, packed: source.then((s) => packLengthSeeded(s, init)) };
    }
    return (await current.packed).get(pack);
  };
}
