import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  batch,
  DataError,
  mapConcurrent,
  parallelMap,
  Progress,
  StagedOutputDir,
  type OnError,
  type Provenance,
  type Sample,
} from '@weft/core';
import { checkBinOutput } from './bin-output.ts';
import { BinWriter, signedTokens } from './bin-writer.ts';
import { encodeDocs, encodeWorkerInit, limitNativeThreads } from './encode-worker.ts';
import type { DatasetFormat } from './formats.ts';
import { stat } from 'node:fs/promises';
import { DEFAULT_MAX_RECORD_BYTES, readJsonArray as streamJsonArray, recordTooLarge } from '@weft/order';
import { parseJsonLine, readJsonArray, readLines } from './lines.ts';
import { pyJsonDumps } from './py-json.ts';
import { pyStrip } from './template-map.ts';
import { tokenizeFile } from './tokenize-file.ts';
import type { Tokenizer } from './tokenizer.ts';
import { validIndices } from './split.ts';

/** The data-kind folders InternLM puts `.bin` files in. */
export const DATA_KINDS = ['cn', 'en', 'code', 'ja', 'ar', 'kaoshi'];

/** Progress over one input file: bytes read of its size, with records and tokens counted. */
function inputProgress(input: string, records: string, enabled = false): Progress {
  return new Progress({
    label: `tokenize ${basename(input)}`,
    total: statSync(input).size,
    unit: 'B',
    counters: [records, 'tok'],
    enabled,
  });
}

/** Options for {@link textToBin}. */
export interface TextToBinOptions {
  tokenizer: Tokenizer;
  /** JSON field holding the text of `.json`/`.jsonl` records (ignored with `internlmCompat`). */
  textField?: string;
  /**
   * Reproduce InternLM tokenizer.py exactly: `.json` records are re-serialised with
   * `json.dumps(record)` and that whole text is tokenized; `.jsonl` lines are tokenized raw,
   * trailing newline included (blank lines too).
   */
  internlmCompat?: boolean;
  workers?: number;
  onError?: OnError;
  /** The largest record (line, or JSON array element) to read; larger ones fail or are skipped. Default 256 MiB. */
  maxRecordBytes?: number;
  progress?: boolean;
  /** Replace an existing `.bin`/`.bin.meta` (`--overwrite`); without it an existing one is refused. */
  overwrite?: boolean;
}

/** What a write produced. */
export interface BinSummary {
  path: string;
  lines: number;
  tokens: number;
  bytes: number;
  skipped: Record<string, number>;
}

interface Doc {
  text: string;
  source: Provenance;
}

/** The documents of an input file, as InternLM's tokenizer.py (or weft's field mode) sees them. */
export async function* internlmDocs(
  file: string,
  opts: {
    textField?: string;
    internlmCompat?: boolean;
    onError?: OnError;
    skipped?: Record<string, number>;
    maxRecordBytes?: number;
  },
): AsyncIterable<Doc> {
  const limit = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const ext = file.split('.').pop()!.toLowerCase();
  const field = opts.textField ?? 'text';
  const skipped = opts.skipped ?? {};
  const bad = (e: DataError): void => {
    if ((opts.onError ?? 'fail') === 'fail') throw e;
    skipped[e.reason] = (skipped[e.reason] ?? 0) + 1;
  };
  const fieldOf = (rec: unknown, source: Provenance): string | undefined => {
    const v =
      rec !== null && typeof rec === 'object' && !Array.isArray(rec)
        ? (rec as Record<string, unknown>)[field]
        : undefined;
    if (typeof v === 'string') return v;
    bad(
      new DataError(
        `record has no string "${field}" field (use --text-field, or --internlm-compat to tokenize the whole record)`,
        source,
        { reason: 'missing-text' },
      ),
    );
    return undefined;
  };
  const lineOpts = { onBadLine: bad, maxLineBytes: limit };
  const tooLarge = (l: { line: number; offset: number; tooLarge?: number }): boolean => {
    if (l.tooLarge === undefined) return false;
    bad(recordTooLarge({ file, line: l.line, offset: l.offset }, l.tooLarge, limit));
    return true;
  };
  if (ext === 'txt') {
    for await (const l of readLines(file, lineOpts)) {
      if (tooLarge(l)) continue;
      // Python's text mode also ends lines at a lone \r (universal newlines).
      for (const part of l.text.split('\r')) {
        const text = pyStrip(part);
        if (text) yield { text, source: { file, line: l.line, offset: l.offset } };
      }
    }
  } else if (ext === 'json' && (await stat(file)).size > limit) {
    // Larger than one record may be: streamed element by element (memory: one element), each under the limit.
    const recs = streamJsonArray(file, { onError: opts.onError ?? 'fail', maxRecordBytes: limit });
    for await (const { value, source } of recs) {
      if (opts.internlmCompat) yield { text: pyJsonDumps(value), source };
      else {
        const t = fieldOf(value, source);
        if (t !== undefined) yield { text: t, source };
      }
    }
    for (const [k, v] of recs.stats.rejected) skipped[k] = (skipped[k] ?? 0) + v;
  } else if (ext === 'json') {
    let arr: unknown[] = [];
    try {
      arr = await readJsonArray(file);
    } catch (e) {
      // A broken document is one bad record: counted with --on-error skip (its records are unknown).
      if (!(e instanceof DataError)) throw e;
      bad(e);
    }
    for (let i = 0; i < arr.length; i++) {
      const source = { file, line: i + 1 };
      if (opts.internlmCompat) yield { text: pyJsonDumps(arr[i]), source };
      else {
        const t = fieldOf(arr[i], source);
        if (t !== undefined) yield { text: t, source };
      }
    }
  } else if (ext === 'jsonl') {
    for await (const l of readLines(file, lineOpts)) {
      if (tooLarge(l)) continue;
      const source = { file, line: l.line, offset: l.offset };
      if (opts.internlmCompat) {
        for (const piece of l.raw.replace(/\r\n?/g, '\n').split(/(?<=\n)/)) if (piece) yield { text: piece, source };
        continue;
      }
      if (l.text.trim() === '') continue;
      let rec: unknown;
      try {
        rec = parseJsonLine(l, file);
      } catch (e) {
        if (e instanceof DataError) {
          bad(e);
          continue;
        }
        throw e;
      }
      const t = fieldOf(rec, source);
      if (t !== undefined) yield { text: t, source };
    }
  } else {
    throw new Error(`${file}: unsupported input type .${ext} (InternLM's tool reads .txt, .json and .jsonl)`);
  }
}

/**
 * InternLM `tools/tokenizer.py`: every document becomes BOS + tokens + EOS, one `.bin` line each,
 * and `<bin>.meta` holds (offset, count) as int32. Written atomically (InternLM appends).
 *
 * @example
 * await textToBin('raw/a.txt', 'data/en/a.bin', { tokenizer: await loadTokenizer('default') });
 */
export async function textToBin(input: string, binPath: string, opts: TextToBinOptions): Promise<BinSummary> {
  await checkBinOutput(input, binPath, { overwrite: opts.overwrite });
  const skipped: Record<string, number> = {};
  const docOpts: Parameters<typeof internlmDocs>[1] & { skipped: Record<string, number> } = { skipped };
  if (opts.maxRecordBytes !== undefined) docOpts.maxRecordBytes = opts.maxRecordBytes;
  if (opts.textField !== undefined) docOpts.textField = opts.textField;
  if (opts.internlmCompat !== undefined) docOpts.internlmCompat = opts.internlmCompat;
  if (opts.onError !== undefined) docOpts.onError = opts.onError;
  const docs = internlmDocs(input, docOpts);
  const workers = opts.workers ?? 0;
  const encodeBatches =
    workers === 0
      ? mapConcurrent((texts: string[]) => encodeDocs(opts.tokenizer, texts), { concurrency: 2 })
      : parallelMap<string[], Int32Array[], { spec: Tokenizer['spec'] }>({
          module: new URL('./encode-worker.ts', import.meta.url),
          name: 'createDocEncoder',
          init: encodeWorkerInit(opts.tokenizer.spec),
          workers,
          concurrencyPerWorker:
            opts.tokenizer.spec.backend === 'native' ? limitNativeThreads(workers).concurrencyPerWorker : 1,
        });
  const progress = inputProgress(input, 'docs', opts.progress);
  const texts = async function* (): AsyncIterable<string> {
    for await (const d of docs) {
      // Bytes read so far (a .json array has no offsets: it counts at the end).
      if (d.source.offset !== undefined) progress.update(d.source.offset);
      yield d.text;
    }
  };
  const writer = await BinWriter.create(binPath);
  try {
    for await (const out of encodeBatches(batch<string>(512)(texts()))) {
      let n = 0;
      for (const ids of out) {
        await writer.write(ids);
        n += ids.length;
      }
      progress.add('docs', out.length);
      progress.add('tok', n);
    }
    progress.update(progress.total ?? 0);
    await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    progress.done();
  }
  return { path: binPath, lines: writer.lines, tokens: writer.tokens, bytes: writer.bytes, skipped };
}

/** Options for {@link datasetToBin}. */
export interface DatasetToBinOptions {
  format: DatasetFormat;
  tokenizer: Tokenizer;
  template?: string;
  maxLength?: number;
  workers?: number;
  onError?: OnError;
  /** Split like InternLM's alpaca_tokenizer.py: `np.random.seed(0); np.random.choice(range(n), int(n * ratio))`. */
  splitRatio?: number;
  progress?: boolean;
  /** The largest record (line, or JSON array element) to read; larger ones fail or are skipped. Default 256 MiB. */
  maxRecordBytes?: number;
  /**
   * Replace an existing output (`--overwrite`): a `.bin`/`.bin.meta`, or with `splitRatio` an
   * earlier weft output folder (never a folder weft did not write).
   */
  overwrite?: boolean;
}

/** Tokens with loss masks folded in (negative = no loss), per sample, streamed in order. */
function signedLines(
  input: string,
  opts: DatasetToBinOptions,
): { lines: AsyncIterable<Int32Array>; skipped: () => Record<string, number> } {
  const o: Parameters<typeof tokenizeFile>[1] = {
    format: opts.format,
    tokenizer: opts.tokenizer,
    workers: opts.workers ?? 0,
  };
  if (opts.template !== undefined) o.template = opts.template;
  if (opts.maxLength !== undefined) o.maxLength = opts.maxLength;
  if (opts.onError !== undefined) o.onError = opts.onError;
  const samples = tokenizeFile(input, o);
  const progress = inputProgress(input, 'samples', opts.progress);
  const lines = (async function* () {
    try {
      for await (const s of samples as AsyncIterable<Sample>) {
        progress.add('samples');
        progress.add('tok', s.input_ids.length);
        if (s.source?.offset !== undefined) progress.update(s.source.offset);
        yield signedTokens(s.input_ids, s.labels);
      }
      progress.update(progress.total ?? 0);
    } finally {
      progress.done();
    }
  })();
  const skipped = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const st of samples.stats) for (const [k, v] of st.rejected) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return { lines, skipped };
}

/**
 * A chat/instruction dataset → InternLM `.bin`/`.meta` with loss masks as negative tokens. With
 * `splitRatio`, InternLM's alpaca_tokenizer.py layout: `<out>/train/en/dataset.bin` and
 * `<out>/valid/en/dataset.bin`, metas as int64 (what its `np.save` of a Python list writes);
 * else one `.bin` at `out` with an int32 meta.
 *
 * @example
 * await datasetToBin('alpaca.json', 'out', { format: 'alpaca', template: 'internlm2_chat', tokenizer: tok, splitRatio: 0.1 });
 */
export async function datasetToBin(input: string, out: string, opts: DatasetToBinOptions): Promise<BinSummary[]> {
  if (opts.splitRatio !== undefined && !(opts.splitRatio >= 0 && opts.splitRatio <= 1))
    throw new RangeError(`--split-ratio must be in [0, 1], got ${opts.splitRatio}`);
  // Checked before any work: the split writes a folder (staged, marked), else one .bin.
  const staged =
    opts.splitRatio === undefined
      ? await checkBinOutput(input, out, { overwrite: opts.overwrite })
      : await StagedOutputDir.create(out, {
          command: 'tokenize',
          inputs: [input],
          overwrite: opts.overwrite ?? false,
          option: '--bin-output-path',
        });
  const { lines: stream, skipped: skippedNow } = signedLines(input, opts);
  if (!staged) {
    const w = await BinWriter.create(out);
    try {
      for await (const l of stream) await w.write(l);
      await w.close();
    } catch (e) {
      await w.abort();
      throw e;
    }
    return [{ path: out, lines: w.lines, tokens: w.tokens, bytes: w.bytes, skipped: skippedNow() }];
  }
  // The split needs the sample count first (seed 0 draws over range(n)), so samples are held, as the seeds' tool does.
  const lines: Int32Array[] = [];
  try {
    for await (const l of stream) lines.push(l);
  } catch (e) {
    await staged.abort();
    throw e;
  }
  const skipped = skippedNow();
  const valid = validIndices(lines.length, opts.splitRatio!, 0);
  const train = await BinWriter.create(join(staged.path, 'train', 'en', 'dataset.bin'), { metaDtype: 'int64' });
  const val = await BinWriter.create(join(staged.path, 'valid', 'en', 'dataset.bin'), { metaDtype: 'int64' });
  try {
    for (let i = 0; i < lines.length; i++) await (valid.has(i) ? val : train).write(lines[i]!);
    await train.close();
    await val.close();
    await staged.commit();
  } catch (e) {
    await train.abort();
    await val.abort();
    await staged.abort();
    throw e;
  }
  const summary = (w: BinWriter, part: string): BinSummary => ({
    path: join(out, part, 'en', 'dataset.bin'),
    lines: w.lines,
    tokens: w.tokens,
    bytes: w.bytes,
    skipped,
  });
  return [summary(train, 'train'), summary(val, 'valid')];
}

/** Warn when a `.bin` path is not under one of InternLM's data-kind folders. */
export function dataKindWarning(binPath: string): string | undefined {
  const kind = basename(dirname(binPath));
  if (DATA_KINDS.includes(kind)) return undefined;
  return `note: ${binPath} is not under a data-kind folder (${DATA_KINDS.join(', ')}); InternLM expects <root>/<kind>/<name>.bin`;
}
