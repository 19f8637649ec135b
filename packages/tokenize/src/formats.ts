import {
  DataError,
  defineStage,
  type Conversation,
  type OnError,
  type Provenance,
  type StageStats,
  type TextDoc,
} from '@weft/core';
import { readJsonArray, readJsonl, readText, type ByteRange } from '@weft/order';
import { recordToItem } from './record-item.ts';
import { lossKeyInFile } from './loss-key.ts';

/** The dataset formats weft reads. */
export type DatasetFormat = 'ftdp' | 'openai' | 'alpaca' | 'conversation' | 'pretrain';

/** A format: how one JSON record (or text line) becomes a Conversation or TextDoc. */
export interface FormatInfo {
  name: DatasetFormat;
  description: string;
  /** One input line, as it appears in a file. */
  example: string;
}

/** What `weft list-formats` prints. */
export const FORMATS: readonly FormatInfo[] = [
  {
    name: 'ftdp',
    description:
      'InternLM ftdp: each line of a .json file is a JSON array of {role, content, loss?} messages (loss false: no loss on that reply; when any message of the file has loss, replies without it have none, as in xtuner)',
    example:
      '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", "loss": true}]',
  },
  {
    name: 'openai',
    description:
      'OpenAI chat: {"messages": [{role, content, loss?}, ...]} per JSON line (or a .json array of such records); loss as for ftdp',
    example: '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}',
  },
  {
    name: 'alpaca',
    description:
      'Alpaca: {instruction, input, output}; xtuner alpaca_map_fn (v0.1.14+): no system message, user = instruction + "\\n" + input; output "<nooutput>" is dropped',
    example: '{"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}',
  },
  {
    name: 'conversation',
    description: 'xtuner conversation: {"conversation": [{system?, input, output, loss?}, ...]} per JSON line',
    example: '{"conversation": [{"system": "Be brief.", "input": "Hi", "output": "Hello!"}]}',
  },
  {
    name: 'pretrain',
    description:
      'Pretraining text: a .txt file (one document per line) or JSON lines with a "text" field (xtuner pretrain_map_fn: stripped, no EOS)',
    example: '{"text": "The quick brown fox jumps over the lazy dog."}',
  },
];

export { recordToItem } from './record-item.ts';

/** Options for {@link readDataset}. */
export interface ReadDatasetOptions {
  onError?: OnError;
  /** The largest record (line, or JSON array element) to read; larger ones fail or are skipped. Default 256 MiB. */
  maxRecordBytes?: number;
  /** Read only this byte range of a line-based file (JSON lines, text): a shard's slice of a large file. */
  range?: ByteRange;
  /**
   * ftdp/openai: whether some message of the whole file has a `loss` key (then messages without
   * one are not trained, as in xtuner). Default: found by {@link lossKeyInFile} before the first record.
   */
  lossKeyInFile?: boolean;
}

/** A dataset stream: records, the mapping stage's counters, and the file reader's (bad JSON, blank lines). */
export type DatasetStream = AsyncIterable<Conversation | TextDoc> & {
  readonly stats: StageStats;
  readonly readerStats: StageStats;
};

/**
 * Read a dataset file as Conversations (chat formats) or TextDocs (pretrain), with provenance,
 * through `@weft/order`'s readers (JSON lines, JSON arrays, text). Bad records raise a DataError
 * naming file and line, or are counted with `onError: 'skip'`; records with nothing to train on
 * (alpaca `<nooutput>`) are counted as dropped. ftdp/openai: when some message of the file has a
 * `loss` key, the messages without one get `loss: false`, as xtuner's pipeline reads them (the whole
 * file is scanned once for the key before the first record, also when reading a byte range).
 *
 * @example
 * for await (const c of readDataset('data/sample/ftdp/a.json', 'ftdp')) console.log(c.messages.length);
 */
export function readDataset(file: string, format: DatasetFormat, options: ReadDatasetOptions = {}): DatasetStream {
  if (!FORMATS.some((f) => f.name === format))
    throw new Error(`unknown format "${format}"; known: ${FORMATS.map((f) => f.name).join(', ')}`);
  const onError = options.onError ?? 'fail';
  const raw = rawRecords(
    file,
    format,
    { onError, ...(options.maxRecordBytes !== undefined ? { maxRecordBytes: options.maxRecordBytes } : {}) },
    options.range,
  );
  const stage = defineStage<RawRecord, Conversation | TextDoc>(
    `map:${format}`,
    async function* (src, ctx) {
      const lossKey =
        options.lossKeyInFile ??
        ((format === 'ftdp' || format === 'openai') && (await lossKeyInFile(file, format, options.maxRecordBytes)));
      for await (const r of src) {
        try {
          const item = recordToItem(format, r.value, r.source, lossKey);
          if (item === null) ctx.drop('no-output');
          else yield item;
        } catch (e) {
          if (!(e instanceof DataError)) throw e;
          ctx.fail(
            r.index === undefined ? e : new DataError(`record ${r.index}: ${e.detail}`, e.source, { reason: e.reason }),
          );
        }
      }
    },
    { onError },
  );
  return Object.assign(stage(raw), { stats: stage.stats, readerStats: raw.stats });
}

interface RawRecord {
  value: unknown;
  source: Provenance;
  /** Position in a JSON array document (its records have no line of their own). */
  index?: number;
}

/** Whether a file of this format is read line by line, so that it can be cut into byte ranges at line starts. */
export function isLineBased(file: string, format: DatasetFormat): boolean {
  return format === 'ftdp' || !file.toLowerCase().endsWith('.json');
}

function rawRecords(
  file: string,
  format: DatasetFormat,
  ro: { onError: OnError; maxRecordBytes?: number },
  range?: ByteRange,
): AsyncIterable<RawRecord> & { stats: StageStats } {
  const lower = file.toLowerCase();
  if (range && !isLineBased(file, format))
    throw new Error(`${file}: a JSON array file cannot be read by byte range (only JSON lines and text can be split)`);
  if (format !== 'ftdp' && lower.endsWith('.json')) return readJsonArray(file, ro);
  if (format === 'pretrain' && lower.endsWith('.txt')) {
    const docs = readText(file, { ...ro, ...(range ? { range } : {}) });
    const it = (async function* () {
      for await (const d of docs) yield { value: d.text, source: d.source };
    })();
    return Object.assign(it, { stats: docs.stats });
  }
  return readJsonl(file, { ...ro, ...(range ? { range } : {}) });
}
