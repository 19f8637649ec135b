import { readdir, rm } from 'node:fs/promises';
import { existsSync, statSync, createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, relative } from 'node:path';
import {
  writeFileAtomic,
  Progress,
  DEFAULT_PACKED_LENGTH,
  DEFAULT_SEED,
  DEFAULT_TEMPLATE,
  openedInTurn,
  prefetch,
  type OnError,
  type Prefetched,
  type StageStats,
  type Sample,
} from '@weft/core';
import { dataOrder, readDataOrder } from '@weft/order';
import { arrowSink } from '@weft/pack';
import { ArrowSource } from '@weft/pack';
import { datasetDictJson, SAMPLE_COLUMNS, SAMPLE_INT64_COLUMNS } from '@weft/pack';
import { PackedDataset } from '@weft/pack';
import { prepareProcessOutput } from './process-output.ts';
import { closePools, fileSamples, isSplittable, type SharedPools } from './samples.ts';
import { unitSplitJob, writeSplitsInUnits } from './unit-pool.ts';
import { checkedBinSources } from '@weft/pack';
import { reusableStats, writePackedDataset, type PackStats } from '@weft/pack';
import { DEFAULT_SPLIT_BYTES, fileRanges } from '@weft/pack';
import { RANGE_CUT, rangedSamples, type Range } from '@weft/pack';
import { fileDigest } from '@weft/pack';
import { lossTokens } from '@weft/pack';

/** Input formats of `weft process`: the tokenizer formats, plus `internlm` (already tokenized `.bin` + `.meta`). */
export type ProcessFormat = 'ftdp' | 'internlm' | 'openai' | 'alpaca' | 'conversation' | 'pretrain';

/** The file suffix each format is looked for with, unless `fileType` says otherwise. */
export const DEFAULT_FILE_TYPE: Record<ProcessFormat, string> = {
  ftdp: '.json',
  internlm: '.bin',
  openai: '.jsonl',
  alpaca: '.json',
  conversation: '.jsonl',
  pretrain: '.txt',
};

/** Options of {@link runProcess} (the `weft process` command). */
export interface ProcessOptions {
  /** A folder (walked in data order) or one file. */
  input: string;
  format: ProcessFormat;
  /** 'default' (embedded), a folder, or a hub id. Not needed for `internlm`. */
  tokenizer?: string;
  template?: string;
  /** Truncate each sample to this many tokens (xtuner's max_length). */
  maxLength?: number;
  /** Also write the length-seeded packed dataset (`<out>/packed`). */
  pack?: boolean;
  packedLength?: number;
  seed?: number;
  /** Drop samples shorter than this before packing (tokenized input: from the meta). */
  minLength?: number;
  /** Worker threads; any count gives the same bytes. */
  workers?: number;
  /**
   * How the workers share the job (default `auto`; the bytes are the same either way): `units`
   * gives each worker whole units — an input file, or a byte range of one larger than `splitBytes`
   * — to read, tokenize and write; `records` spreads batches of records over the workers and writes
   * in this thread. `auto` takes units when they keep every worker busy (see unit-pool.ts), and
   * records for few or very unequal files. Units need line-based input with a PROMPT_TEMPLATE and a
   * tokenizer that runs in JavaScript; otherwise records are spread. Unset: `$WEFT_PARALLELISM`.
   */
  parallelism?: 'auto' | 'units' | 'records';
  onError?: OnError;
  /**
   * The model's vocabulary size: every token id must be below it (a sample with another id is a
   * DataError naming file and line, or skipped with onError 'skip'). Default: the tokenizer's
   * vocabulary size including added tokens; `internlm` input is checked only when this is given.
   */
  vocabSize?: number;
  /** The largest record (line, JSON array element, `.bin` line) to read; larger ones fail or are skipped. Default 256 MiB. */
  maxRecordBytes?: number;
  fileType?: string;
  dataOrderPath?: string;
  out: string;
  /** Shard size bound of the Arrow files. */
  maxShardBytes?: number;
  /** Progress bars on stderr (default: on). */
  progress?: boolean;
  /** Line-based inputs larger than this are read (and their Arrow files cut) in byte ranges, the units shards share out. */
  splitBytes?: number;
  /** Input digests already known (`weft merge` has them from the shard markers), so the inputs are not reread. */
  digests?: readonly string[];
  /** Replace an earlier weft output at `out` made with other settings (`--overwrite`); equal settings resume without it. */
  overwrite?: boolean;
  /** The command recorded in the output marker (default `process`; the demo says `demo`). */
  command?: string;
  /** Progress wording for splits found done (default `from an earlier run`; `weft merge` says where they came from). */
  reusedFrom?: string;
  /** internlm + pack: folder of the `.bin` token sidecars (see `token-cache.ts`); unset: none. */
  cacheDir?: string | undefined;
}

/** Per input file: what went in and what came out. */
export interface FileStats {
  file: string;
  read: number;
  kept: number;
  skipped: Record<string, number>;
  tokens: number;
  loss_tokens: number;
}

/** The JSON summary `weft process` prints and writes to `<out>/summary.json`. */
export interface ProcessSummary {
  input: string;
  format: ProcessFormat;
  files: number;
  /** Records read from the inputs. */
  read: number;
  /** Samples written (read - skipped). */
  kept: number;
  skipped: Record<string, number>;
  /** Tokens of the kept samples. */
  tokens: number;
  loss_tokens: number;
  samples_dir: string | null;
  /**
   * Input files whose split holds no sample (every record skipped or without a trainable token):
   * weft writes their split empty, where xtuner's offline job stops with an error.
   */
  empty_splits: string[];
  packed_dir: string | null;
  packs: number | null;
  packed_length: number | null;
  pack_tokens: number | null;
  /** Tail tokens that did not fill a pack (dropped, as xtuner does), and samples under min_length. */
  waste_tokens: number | null;
  padding_tokens: number | null;
  /** pack_tokens / tokens. */
  utilisation: number | null;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function mergeRejected(into: Record<string, number>, stats: readonly StageStats[]): void {
  for (const s of stats) for (const [k, v] of s.rejected) into[k] = (into[k] ?? 0) + v;
}

/** The input folder and its files in data order (relative paths). */
export async function inputFiles(opts: ProcessOptions): Promise<{ root: string; files: string[] }> {
  if (!existsSync(opts.input)) throw new Error(`input ${opts.input} does not exist`);
  if (statSync(opts.input).isFile()) return { root: dirname(opts.input), files: [basename(opts.input)] };
  const fileType = opts.fileType ?? DEFAULT_FILE_TYPE[opts.format];
  const files = opts.dataOrderPath
    ? await readDataOrder(opts.dataOrderPath, opts.input)
    : await dataOrder(opts.input, { fileType });
  if (files.length === 0)
    throw new Error(`no ${fileType} files under ${opts.input} (use --file-type to pick another suffix)`);
  return { root: opts.input, files };
}

/** The byte ranges `weft process` reads an input file in (one unless it is larger than `splitBytes`). */
export async function inputRanges(root: string, rel: string, opts: ProcessOptions): Promise<Range[]> {
  const path = join(root, rel);
  return fileRanges(
    path,
    statSync(path).size,
    await isSplittable(rel, opts.format),
    opts.splitBytes ?? DEFAULT_SPLIT_BYTES,
  );
}

/** A file of `weft process` opened for writing: done earlier (`reused`), or its samples already being read. */
interface OpenedFile {
  rel: string;
  digest: string;
  config: Record<string, unknown>;
  dir: string;
  reused?: FileStats;
  samples?: Prefetched<Sample | typeof RANGE_CUT>;
  stats?: () => StageStats[];
}

/**
 * How far the next file is read ahead of the one being written, in tokens (ids and labels: 8 bytes
 * each, so 32 MB): enough to keep the workers busy while a file's last samples are written and its
 * folder committed, small beside the job.
 */
export const PREFETCH_TOKENS = 1 << 22;
const sampleWeight = (s: Sample | typeof RANGE_CUT): number => (s === RANGE_CUT ? 1 : 1 + s.input_ids.length);

/**
 * The line `weft process` prints on stderr when some input files gave no sample, or undefined.
 *
 * @example
 * emptySplitsNote({ files: 3, empty_splits: ['b.json'] });
 * // 'weft: NOTE: 1 of 3 input files gave no trainable sample, so its split is empty: b.json (xtuner's offline job stops with an error on such a file)'
 */
export function emptySplitsNote(s: Pick<ProcessSummary, 'files' | 'empty_splits'>): string | undefined {
  const n = s.empty_splits.length;
  if (n === 0) return undefined;
  const shown =
    s.empty_splits.slice(0, 10).join(', ') + (n > 10 ? `, ... (${n - 10} more in summary.json "empty_splits")` : '');
  return (
    `weft: NOTE: ${n} of ${s.files} input files gave no trainable sample, so ${n === 1 ? 'its split is' : 'their splits are'} empty: ${shown} ` +
    "(xtuner's offline job stops with an error on such a file)"
  );
}

/** The settings every output of a run records (a split or the packed folder is reused only when they are equal). */
export function processBaseConfig(opts: ProcessOptions): Record<string, unknown> {
  const tokenized = opts.format === 'internlm';
  return {
    format: opts.format,
    tokenizer: tokenized ? null : (opts.tokenizer ?? 'default'),
    template: tokenized ? null : (opts.template ?? DEFAULT_TEMPLATE),
    max_length: opts.maxLength ?? null,
    min_length: tokenized ? (opts.minLength ?? 0) : null,
    on_error: opts.onError ?? 'fail',
    ...(opts.vocabSize !== undefined ? { vocab_size: opts.vocabSize } : {}),
  };
}

/**
 * The offline job: every input file → one split of a DatasetDict of tokenized samples
 * (`<out>/samples/0`, `1`, ... as xtuner's process_untokenized_datasets saves), then optionally
 * the length-seeded packed dataset (`<out>/packed`). Each split and the packed folder are
 * committed whole (temp + rename); a rerun reuses what a previous run finished with the same
 * inputs and settings, so a killed job resumes and ends with the same bytes.
 *
 * @example
 * const summary = await runProcess({ input: 'data/sample/ftdp', format: 'ftdp', tokenizer: 'default',
 *   template: 'internlm2_chat', maxLength: 32768, pack: true, packedLength: 8192, out: 'out/demo' });
 */
export async function runProcess(opts: ProcessOptions): Promise<ProcessSummary> {
  const { root, files } = await inputFiles(opts);
  const tokenized = opts.format === 'internlm';
  const packDirect = tokenized && opts.pack;
  const samplesDir = join(opts.out, 'samples');
  const packedDir = join(opts.out, 'packed');
  await prepareProcessOutput(opts, { samples: !packDirect, packed: Boolean(opts.pack) });
  // The units below lie inside the folder this run owns: each may replace its earlier self.
  const output = { command: opts.command ?? 'process', overwrite: true };
  const showProgress = opts.progress ?? true;
  const baseConfig = processBaseConfig(opts);
  const summary: ProcessSummary = {
    input: opts.input,
    format: opts.format,
    files: files.length,
    read: 0,
    kept: 0,
    skipped: {},
    tokens: 0,
    loss_tokens: 0,
    samples_dir: null,
    empty_splits: [],
    packed_dir: null,
    packs: null,
    packed_length: null,
    pack_tokens: null,
    waste_tokens: null,
    padding_tokens: null,
    utilisation: null,
  };
  const splitDigests: string[] = [];
  if (!packDirect) {
    // Bytes read of all input bytes: the ETA holds in the middle of a file.
    const sizes = files.map((rel) => statSync(join(root, rel)).size);
    const bar = new Progress({
      label: 'process',
      total: sizes.reduce((a, b) => a + b, 0),
      unit: 'B',
      counters: ['samples', 'tok'],
      items: { total: files.length, unit: 'files' },
      enabled: showProgress,
      ...(opts.reusedFrom ? { reusedFrom: opts.reusedFrom } : {}),
    });
    let bytesBefore = 0;
    const throttle = Number(process.env.WEFT_TEST_THROTTLE_MS ?? 0);
    const shared: SharedPools = {};
    // File k+1 is opened (digest, reuse check, its samples read and encoded ahead into a bounded
    // buffer) while file k is written, so the pool does not drain at each file's end. Output
    // still goes file by file, in data order.
    const open = async (k: number): Promise<OpenedFile> => {
      const rel = files[k]!;
      const path = join(root, rel);
      const ranges = await inputRanges(root, rel, opts);
      const digest = opts.digests?.[k] ?? (await fileDigest(path, ranges));
      const config = { ...baseConfig, file: rel, sha256: digest };
      const dir = join(samplesDir, String(k));
      const reused = reusableStats<FileStats>(dir, config);
      if (reused) return { rel, digest, config, dir, reused };
      // A large file is read range by range, its Arrow files cut at the ranges: the files shards write.
      const { samples, stats } =
        ranges.length === 1
          ? await fileSamples(path, opts, undefined, shared)
          : rangedSamples(ranges, (r, lines) => fileSamples(path, opts, { ...r, firstLine: lines }, shared));
      return {
        rel,
        digest,
        config,
        dir,
        samples: prefetch(samples, { limit: PREFETCH_TOKENS, weigh: sampleWeight }),
        stats,
      };
    };
    const addSplit = (rel: string, digest: string, st: FileStats): void => {
      splitDigests.push(digest);
      summary.read += st.read;
      summary.kept += st.kept;
      summary.tokens += st.tokens;
      summary.loss_tokens += st.loss_tokens;
      if (st.kept === 0) summary.empty_splits.push(rel);
      for (const [r, n] of Object.entries(st.skipped)) summary.skipped[r] = (summary.skipped[r] ?? 0) + n;
    };
    const workers = opts.workers ?? 0;
    const unitJob = workers > 0 ? await unitSplitJob(root, files, sizes, opts, workers) : undefined;
    try {
      if (unitJob)
        await writeSplitsInUnits({ ...unitJob, samplesDir, baseConfig, bar }, opts, workers, (k, digest, st) =>
          addSplit(files[k]!, digest, st),
        );
      else {
        let k = 0;
        for await (const f of openedInTurn(files.length, open, (g) => g.samples?.cancel())) {
          let st = f.reused;
          if (st) bar.reuse({ done: sizes[k]!, counts: { samples: st.kept, tok: st.tokens } });
          else {
            const fs: FileStats = { file: f.rel, read: 0, kept: 0, skipped: {}, tokens: 0, loss_tokens: 0 };
            const before = bytesBefore;
            await arrowSink(f.samples!, f.dir, {
              columns: SAMPLE_COLUMNS,
              int64Columns: SAMPLE_INT64_COLUMNS,
              maxShardBytes: opts.maxShardBytes,
              output,
              onRow: async (s: Sample) => {
                fs.kept++;
                fs.tokens += s.input_ids.length;
                fs.loss_tokens += lossTokens(s.labels);
                bar.add('samples');
                bar.add('tok', s.input_ids.length);
                if (s.source?.offset !== undefined) bar.update(before + s.source.offset);
                if (throttle > 0) await new Promise((r) => setTimeout(r, throttle));
              },
              extraFiles: () => {
                const all = f.stats!();
                fs.read = all[0]?.seen ?? fs.kept;
                // The encoder's "empty" drops are records too; everything read is kept or counted.
                mergeRejected(fs.skipped, all);
                return { 'weft_stats.json': JSON.stringify({ config: f.config, stats: fs }, null, 2) };
              },
            });
            st = fs;
            bar.update(bytesBefore + sizes[k]!);
            bar.itemDone();
          }
          bytesBefore += sizes[k]!;
          addSplit(f.rel, f.digest, st);
          k++;
        }
      }
    } catch (e) {
      await closePools(shared);
      throw e;
    }
    await closePools(shared);
    bar.done();
    // Splits left by an earlier run over more files are not part of this output.
    for (const e of await readdir(samplesDir))
      if (/^\d+$/.test(e) && Number(e) >= files.length) await rm(join(samplesDir, e), { recursive: true, force: true });
    await writeFileAtomic(join(samplesDir, 'dataset_dict.json'), datasetDictJson(files.map((_, k) => String(k))));
    summary.samples_dir = relative(opts.out, samplesDir) || '.';
  }

  if (opts.pack) {
    const packedLength = opts.packedLength ?? DEFAULT_PACKED_LENGTH;
    const seed = opts.seed ?? DEFAULT_SEED;
    let ps: PackStats | undefined;
    if (packDirect) {
      const digests: string[] = [];
      for (const rel of files) digests.push(await sha256File(join(root, rel)));
      const config = { ...baseConfig, packed_length: packedLength, seed, files, sha256: digests };
      ps = reusableStats<PackStats>(packedDir, config);
      if (ps)
        new Progress({ label: 'pack', enabled: showProgress }).note(
          `reused ${packedDir} (${ps.packs} packs) from an earlier run with the same inputs and settings`,
        );
      if (!ps) {
        // min_length, --vocab-size and --on-error skip decide which lines are packed, before the layout is drawn.
        const { sources, lines, kept, skipped } = await checkedBinSources(
          files.map((rel) => join(root, rel)),
          {
            minLength: opts.minLength ?? 0,
            onError: opts.onError ?? 'fail',
            ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
            ...(opts.vocabSize !== undefined ? { vocabSize: opts.vocabSize } : {}),
          },
        );
        const ds = PackedDataset.fromBinSources(sources, { packedLength, seed, minLength: opts.minLength ?? 0 });
        ps = await writePackedDataset(ds, packedDir, {
          config,
          extraStats: { lines, kept, skipped },
          progress: showProgress,
          maxShardBytes: opts.maxShardBytes,
          workers: opts.workers ?? 0,
          output,
        });
      }
      // Tokenized input: lines read, kept and left out by reason (min_length drops count as "short").
      summary.read = ps.lines ?? 0;
      summary.kept = ps.kept ?? 0;
      summary.skipped = {
        ...(ps.skipped ?? (summary.read > summary.kept ? { short: summary.read - summary.kept } : {})),
      };
      summary.tokens = ps.tokens;
      summary.loss_tokens = ps.loss_tokens;
    } else {
      const config = { ...baseConfig, packed_length: packedLength, seed, splits: splitDigests };
      ps = reusableStats<PackStats>(packedDir, config);
      if (ps)
        new Progress({ label: 'pack', enabled: showProgress }).note(
          `reused ${packedDir} (${ps.packs} packs) from an earlier run with the same inputs and settings`,
        );
      if (!ps) {
        const sources: ArrowSource[] = [];
        for (const k of files.keys()) sources.push(await ArrowSource.open(join(samplesDir, String(k))));
        ps = await writePackedDataset(PackedDataset.fromSources(sources, { packedLength, seed }), packedDir, {
          config,
          progress: showProgress,
          maxShardBytes: opts.maxShardBytes,
          output,
        });
      }
    }
    summary.packed_dir = relative(opts.out, packedDir);
    summary.packs = ps.packs;
    summary.packed_length = packedLength;
    summary.pack_tokens = ps.pack_tokens;
    summary.waste_tokens = ps.waste_tokens;
    summary.padding_tokens = ps.padding_tokens;
    summary.utilisation = ps.tokens > 0 ? Number((ps.pack_tokens / ps.tokens).toFixed(6)) : 0;
  }
  await writeFileAtomic(join(opts.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
