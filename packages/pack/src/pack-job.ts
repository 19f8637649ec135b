import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Progress, type OutputDirOptions, type Pack } from '@weft/core';
import { arrowSink } from './arrow-sink.ts';
import type { WrittenFile } from './arrow-writer.ts';
import { RANGE_CUT } from './range-samples.ts';
import { lossTokens } from './trainable-only.ts';
import { PackedDataset } from './packed-dataset.ts';

/** The columns of a packed Arrow dataset, in order. */
export const PACK_COLUMNS = ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const;

/** What a packing run did (also written beside the packs as `weft_stats.json`). */
export interface PackStats {
  files: number;
  packs: number;
  packed_length: number;
  /** Tokens of the kept samples (after min_length). */
  tokens: number;
  /** Tokens inside packs (packs × packed_length). */
  pack_tokens: number;
  /** Tokens of each file's tail that did not fill a pack (xtuner drops them). */
  waste_tokens: number;
  /** Length-seeded packs are never padded; kept for the summary's shape. */
  padding_tokens: number;
  /** Tokens with a loss (label != -100) inside packs. */
  loss_tokens: number;
  /** Tokenized input only: lines in the metas, and samples kept after min_length. */
  lines?: number;
  kept?: number;
  /** Tokenized input only: lines left out, by reason (`short`: under min_length); lines = kept + skipped. */
  skipped?: Record<string, number>;
}

/** Options of {@link writePackedDataset}. */
export interface WritePackedOptions {
  maxShardBytes?: number;
  /** Show a progress bar (stderr). */
  progress?: boolean;
  /** A record of the inputs/settings, stored in `weft_stats.json`; a later run reuses the folder only when it is equal. */
  config?: unknown;
  /** Worker threads building packs (`.bin` datasets); the bytes are the same for any count. */
  workers?: number;
  /** Counts known to the caller, stored and returned with the stats. */
  extraStats?: Partial<PackStats>;
  /** Pack indices that start a new Arrow file (the unit boundaries of a sharded `weft pack`). */
  cutBefore?: ReadonlySet<number>;
  /** Told the Arrow files written (name, size, SHA-256), e.g. for a shard's marker. */
  onFiles?: (files: WrittenFile[]) => void;
  /** Who writes the folder, its inputs, and whether an earlier weft output may be replaced (`--overwrite`). */
  output?: OutputDirOptions;
}

/**
 * Write every pack of `ds`, in pack order, as a HF `datasets` folder with columns
 * input_ids, labels, cumulative_len, position_ids. The folder appears whole (temp + rename).
 *
 * @example
 * const ds = await PackedDataset.fromBinFolder('data/tokenized', { packedLength: 8192 });
 * await writePackedDataset(ds, 'out/packed');
 */
export async function writePackedDataset(
  ds: PackedDataset,
  dir: string,
  options: WritePackedOptions = {},
): Promise<PackStats> {
  const packedLength = ds.files[0]?.plan.packedLength ?? 0;
  let tokens = 0;
  for (const f of ds.files) tokens += f.plan.numTokens;
  const stats: PackStats = {
    files: ds.files.length,
    packs: ds.length,
    packed_length: packedLength,
    tokens,
    pack_tokens: ds.length * packedLength,
    waste_tokens: tokens - ds.length * packedLength,
    padding_tokens: 0,
    loss_tokens: 0,
    ...options.extraStats,
  };
  const bar = new Progress({
    label: 'pack',
    total: ds.length,
    unit: 'packs',
    counters: ['tok'],
    enabled: options.progress ?? false,
  });
  const throttle = Number(process.env.WEFT_TEST_THROTTLE_MS ?? 0);
  const cutBefore = options.cutBefore;
  // Packs, with a cut where a shard of `weft pack --shard` would start its own file.
  async function* packs(): AsyncIterable<Pack | typeof RANGE_CUT> {
    let index = 0;
    for await (const p of ds.packs(0, 4, options.workers ?? 0)) {
      if (cutBefore?.has(index++)) yield RANGE_CUT;
      yield p;
    }
  }
  const res = await arrowSink(packs(), dir, {
    columns: PACK_COLUMNS,
    maxShardBytes: options.maxShardBytes,
    output: options.output ?? { command: 'pack' },
    onRow: async (p: Pack) => {
      stats.loss_tokens += lossTokens(p.labels);
      bar.add('tok', packedLength);
      bar.tick();
      if (throttle > 0) await new Promise((r) => setTimeout(r, throttle));
    },
    extraFiles: () => {
      bar.done();
      return { 'weft_stats.json': JSON.stringify({ config: options.config ?? null, stats }, null, 2) };
    },
  });
  options.onFiles?.(res.files);
  return stats;
}

/** The stats of a finished folder made with the same config, or undefined (then redo it). */
export function reusableStats<T>(dir: string, config: unknown): T | undefined {
  const f = join(dir, 'weft_stats.json');
  if (!existsSync(f) || !existsSync(join(dir, 'state.json'))) return undefined;
  try {
    const rec = JSON.parse(readFileSync(f, 'utf8')) as { config: unknown; stats: T };
    return JSON.stringify(rec.config) === JSON.stringify(config) ? rec.stats : undefined;
  } catch {
    return undefined;
  }
}
