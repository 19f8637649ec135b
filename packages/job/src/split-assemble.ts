import { copyFile, link, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  OUTPUT_MARKER,
  outputMarkerText,
  releaseTemp,
  tempPathFor,
  writeFileAtomic,
  type StageStats,
} from '@weft/core';
import {
  ArrowDatasetWriter,
  combineStats,
  datasetInfoJson,
  fingerprintOf,
  fromStatsRecords,
  SAMPLE_COLUMNS,
  SAMPLE_INT64_COLUMNS,
  shardName,
  stateJson,
  type StatsRecord,
  type WrittenFile,
} from '@weft/pack';
import type { FileStats } from './process.ts';

/** One unit's part of a split: its counters and Arrow files, and the folder those files are in now. */
export interface SplitPart {
  kept: number;
  tokens: number;
  loss_tokens: number;
  stats: StatsRecord[];
  arrow: WrittenFile[];
  /** Folder holding `arrow`'s files. */
  from: string;
}

/** Hard-link `from` to `to`, or copy where the file system refuses links. */
export async function linkOrCopy(from: string, to: string): Promise<'linked' | 'copied'> {
  try {
    await link(from, to);
    return 'linked';
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw e;
    await copyFile(from, to);
    return 'copied';
  }
}

/**
 * Give `files` (Arrow files written elsewhere) their final names `data-0000j-of-0000n.arrow` in
 * `tmp` by hard links (copies where refused), with the `dataset_info.json` and `state.json` of a
 * folder of `columns`: the layout `save_to_disk` leaves, for a split or a packed folder made from
 * shards' files.
 *
 * @example
 * const { names } = await linkArrowFiles(tmp, [{ from: 'shards/s0/f0-r0/data-00000-of-00001.arrow', sha256 }], SAMPLE_COLUMNS);
 */
export async function linkArrowFiles(
  tmp: string,
  files: readonly { from: string; sha256: string }[],
  columns: readonly string[],
  int64Columns: readonly string[] = [],
): Promise<{ names: string[]; linked: number; copied: number }> {
  const names = files.map((_, j) => shardName(j, files.length));
  let linked = 0,
    copied = 0;
  for (const [j, f] of files.entries())
    (await linkOrCopy(f.from, join(tmp, names[j]!))) === 'linked' ? linked++ : copied++;
  await writeFileAtomic(join(tmp, 'dataset_info.json'), datasetInfoJson(columns, int64Columns));
  await writeFileAtomic(
    join(tmp, 'state.json'),
    stateJson(
      names,
      fingerprintOf(
        files.map((f) => f.sha256),
        columns,
      ),
    ),
  );
  return { names, linked, copied };
}

/**
 * Make the split of input file `rel` at `dir` from its units' Arrow files, in range order, with
 * the `dataset_info.json`, `state.json`, `weft_stats.json` and marker that a single `weft process`
 * run writes: the Arrow files are hard-linked under their final names (no copy), the folder is
 * committed whole. Returns the split's counters as one read of the whole file gives them.
 *
 * @example
 * const { stats } = await assembleSplit('out/samples/3', 'part-003.json', config, parts, 'process');
 */
export async function assembleSplit(
  dir: string,
  rel: string,
  config: Record<string, unknown>,
  parts: readonly SplitPart[],
  command: string,
): Promise<{ stats: FileStats; linked: number; copied: number }> {
  const all: StageStats[] = combineStats(parts.map((p) => fromStatsRecords(p.stats)));
  const fs: FileStats = {
    file: rel,
    read: 0,
    kept: parts.reduce((a, p) => a + p.kept, 0),
    skipped: {},
    tokens: parts.reduce((a, p) => a + p.tokens, 0),
    loss_tokens: parts.reduce((a, p) => a + p.loss_tokens, 0),
  };
  fs.read = all[0]?.seen ?? fs.kept;
  for (const s of all) for (const [r, v] of s.rejected) fs.skipped[r] = (fs.skipped[r] ?? 0) + v;
  const statsText = JSON.stringify({ config, stats: fs }, null, 2);
  const files = parts.flatMap((p) => p.arrow.map((f) => ({ ...f, from: join(p.from, f.name) })));
  let linked = 0,
    copied = 0;
  if (files.length === 0) {
    // No rows: the one empty Arrow file a single run's writer leaves.
    await (
      await ArrowDatasetWriter.create(dir, {
        columns: SAMPLE_COLUMNS,
        int64Columns: SAMPLE_INT64_COLUMNS,
        output: { command, overwrite: true },
      })
    ).finish({ 'weft_stats.json': statsText });
    return { stats: fs, linked, copied };
  }
  const tmp = tempPathFor(dir);
  await mkdir(tmp);
  const r = await linkArrowFiles(tmp, files, SAMPLE_COLUMNS, SAMPLE_INT64_COLUMNS);
  linked = r.linked;
  copied = r.copied;
  await writeFileAtomic(join(tmp, 'weft_stats.json'), statsText);
  // Last, as a single run's writer does: the split's own marker.
  await writeFileAtomic(join(tmp, OUTPUT_MARKER), outputMarkerText({ command }));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  releaseTemp(tmp);
  return { stats: fs, linked, copied };
}
