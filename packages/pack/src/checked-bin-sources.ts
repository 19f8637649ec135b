import { join } from 'node:path';
import { firstOutOfVocab, isDataError, OUT_OF_VOCAB, type OnError } from '@weft/core';
import { BinFile, dataOrder, readBinMeta, readDataOrder, readInternlmBin } from '@weft/order';
import { BinSource } from './bin-source.ts';
import { ensureTokenCache } from './token-cache.ts';
import { checkBinVocab } from './vocab-scan.ts';

/** Options of {@link checkedBinSources}. */
export interface CheckedBinOptions {
  /** Drop samples with fewer tokens (xtuner's `min_length`); counted as `short`. */
  minLength?: number;
  /**
   * 'fail' (default): only the `.meta` files are read here; a bad line stops the packing when it
   * is read. 'skip': every line is read and checked first (front to back, then each kept line as
   * the packer reads it, by its .meta offsets), and bad lines are left out of the packing and
   * counted by reason.
   */
  onError?: OnError;
  /** Folder of the binary token sidecars (`token-cache.ts`); unset: every read parses its JSON line. */
  cacheDir?: string;
  /**
   * The model's vocabulary size: a line with a token id (absolute value) at or above it is a
   * DataError naming file and line ('fail': every line is read once for this before packing) or
   * is left out and counted as `token-out-of-vocab` ('skip').
   */
  vocabSize?: number;
}

/** The `.bin` sources to pack, with what went in and what was left out. */
export interface CheckedBinSources {
  sources: BinSource[];
  /** Lines in the inputs (records in). */
  lines: number;
  /** Samples handed to the packer (records out). */
  kept: number;
  /** Lines left out, by reason (`short` for min_length); lines = kept + sum(skipped). */
  skipped: Record<string, number>;
}

function add(into: Record<string, number>, reason: string, n: number): void {
  if (n > 0) into[reason] = (into[reason] ?? 0) + n;
}

/**
 * Open `.bin` files for packing, applying `min_length` and the `--on-error` policy. With
 * `onError: 'skip'` a file whose `.meta` cannot be used at all (missing, not a .npy, offsets past
 * the end) is left out whole: its lines count under that reason (one, when the `.meta` is
 * missing and the line count is unknown).
 *
 * @example
 * const { sources, lines, kept, skipped } = await checkedBinSources(['data/en/a.bin'], { minLength: 50, onError: 'skip' });
 * const ds = PackedDataset.fromBinSources(sources, { packedLength: 8192, minLength: 50 });
 */
export async function checkedBinSources(
  paths: readonly string[],
  options: CheckedBinOptions = {},
): Promise<CheckedBinSources> {
  const minLength = options.minLength ?? 0;
  const out: CheckedBinSources = { sources: [], lines: 0, kept: 0, skipped: {} };
  if (options.vocabSize !== undefined && (options.onError ?? 'fail') === 'fail')
    await checkBinVocab(paths, options.vocabSize, { minLength });
  for (const path of paths) {
    if ((options.onError ?? 'fail') === 'fail') {
      const s = await BinSource.open(path, minLength, options.cacheDir ? { cacheDir: options.cacheDir } : {});
      out.sources.push(s);
      out.lines += s.lines;
      out.kept += s.lengths.length;
      add(out.skipped, 'short', s.lines - s.lengths.length);
      continue;
    }
    // The packer reads lines by .meta offset later, so the .meta must be usable as a whole.
    let metaError: string | undefined;
    try {
      await readBinMeta(path);
    } catch (e) {
      if (!isDataError(e)) throw e;
      metaError = e.reason;
    }
    const read = readInternlmBin(path, { minLength, onError: 'skip' });
    const rows: number[] = [],
      lengths: number[] = [];
    for await (const r of read) {
      if (
        metaError === undefined &&
        options.vocabSize !== undefined &&
        firstOutOfVocab(r.tokens, options.vocabSize, true) >= 0
      ) {
        add(out.skipped, OUT_OF_VOCAB, 1);
        continue;
      }
      rows.push(r.source.line! - 1);
      lengths.push(r.tokens.length);
    }
    const st = read.stats;
    out.lines += st.seen;
    if (metaError !== undefined) {
      add(out.skipped, metaError, st.seen);
      continue;
    }
    for (const [reason, n] of st.rejected) add(out.skipped, reason, n);
    // The packer reads line i as the bytes from .meta offset i to offset i + 1: a line that reads
    // fine front to back can still be cut wrong by a corrupt next offset. Check each kept line
    // the way the packer will read it.
    const bin = await BinFile.open(path);
    const keptRows: number[] = [],
      keptLengths: number[] = [];
    try {
      for (let k = 0; k < rows.length; k++) {
        try {
          await bin.read(rows[k]!);
        } catch (e) {
          if (!isDataError(e)) throw e;
          add(out.skipped, e.reason, 1);
          continue;
        }
        keptRows.push(rows[k]!);
        keptLengths.push(lengths[k]!);
      }
    } finally {
      await bin.close();
    }
    out.kept += keptRows.length;
    // A sidecar exists only for a .bin whose every line is good (else the JSON path, as without one).
    const meta = options.cacheDir ? await readBinMeta(path) : undefined;
    const cachePath = meta ? await ensureTokenCache(path, meta, options.cacheDir!) : undefined;
    out.sources.push(
      new BinSource(path, Int32Array.from(keptLengths), Int32Array.from(keptRows), st.seen, cachePath, meta),
    );
  }
  return out;
}

/**
 * The `.bin` files of a folder in data order (or as `dataOrderPath` lists them), opened with
 * {@link checkedBinSources}.
 *
 * @example
 * const checked = await checkedBinFolder('data/tokenized', { onError: 'skip' });
 */
export async function checkedBinFolder(
  folder: string,
  options: CheckedBinOptions & { dataOrderPath?: string } = {},
): Promise<CheckedBinSources> {
  const files = options.dataOrderPath
    ? await readDataOrder(options.dataOrderPath, folder)
    : await dataOrder(folder, { fileType: '.bin' });
  return checkedBinSources(
    files.map((f) => join(folder, f)),
    options,
  );
}
