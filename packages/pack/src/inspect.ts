import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BinFile, dataOrder, readBinMeta } from '@weft/order';
import { DEFAULT_PACKED_LENGTH, fromSignedTokens, IGNORE_INDEX } from '@weft/core';
import { ArrowDataset } from './arrow-reader.ts';

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** Row (Arrow) or sample (`.bin`, across files in data order) to show. */
  index?: number;
  /** DatasetDict split to open (default: the first). */
  split?: string;
  /** Token ids → text (a tokenizer's `decode`); ids are shown without it. */
  decode?: (ids: Int32Array) => Promise<string>;
  /** For a `.bin` folder: the pack length to report utilisation for. */
  packedLength?: number;
  /** Colour (TTY) or brackets around loss-masked tokens. */
  color?: boolean;
  /** Show at most this many tokens of the row. */
  maxTokens?: number;
}

const DIM = '\x1b[2;37m',
  GREEN = '\x1b[32m',
  RESET = '\x1b[0m',
  SEP = '\x1b[35m';

/** Lengths bucketed by powers of two, drawn as bars. */
export function histogram(lengths: ArrayLike<number>, width = 40): string {
  if (lengths.length === 0) return '  (no samples)\n';
  const buckets = new Map<number, number>();
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i]!;
    const b = n <= 0 ? 0 : 2 ** Math.floor(Math.log2(n));
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  const max = Math.max(...buckets.values());
  return keys
    .map((b) => {
      const c = buckets.get(b)!;
      const range = b <= 1 ? String(b) : `${b}-${2 * b - 1}`;
      return `  ${range.padStart(13)} ${String(c).padStart(8)} ${'#'.repeat(Math.max(1, Math.round((c / max) * width)))}\n`;
    })
    .join('');
}

type Decode = ((ids: Int32Array) => Promise<string>) | undefined;

/** Render tokens with loss-masked runs distinguished: dim grey on a TTY, `[...]` otherwise; pieces split by `‖`. */
export async function renderTokens(
  inputIds: Int32Array,
  labels: Int32Array,
  cuts: readonly number[],
  decode: Decode,
  color: boolean,
  maxTokens: number,
): Promise<string> {
  const n = Math.min(inputIds.length, maxTokens);
  const bounds = new Set(cuts.filter((c) => c > 0 && c < n));
  let out = '';
  let i = 0;
  while (i < n) {
    if (bounds.has(i)) out += color ? `${SEP} ‖ ${RESET}` : ' ‖ ';
    const masked = labels[i] === IGNORE_INDEX;
    let j = i + 1;
    while (j < n && (labels[j] === IGNORE_INDEX) === masked && !bounds.has(j)) j++;
    const ids = inputIds.subarray(i, j);
    const text = decode ? JSON.stringify(await decode(ids)).slice(1, -1) : Array.from(ids).join(' ');
    if (masked) out += color ? `${DIM}${text}${RESET}` : `[${text}]`;
    else out += color ? `${GREEN}${text}${RESET}` : text;
    if (!decode && j < n && !bounds.has(j)) out += ' ';
    i = j;
  }
  if (inputIds.length > n) out += ` … (${inputIds.length - n} more tokens)`;
  return out;
}

/**
 * A readable look at a packed/tokenized Arrow folder or an InternLM `.bin` folder: one row with
 * its loss-masked tokens marked, a length histogram, and pack utilisation.
 *
 * @example
 * const tok = await loadTokenizer('default'); // @weft/tokenize
 * console.log(await inspect('out/demo/packed', { index: 0, decode: (ids) => tok.decode(ids), color: process.stdout.isTTY }));
 */
export async function inspect(path: string, options: InspectOptions = {}): Promise<string> {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const decode = options.decode;
  const color = options.color ?? false;
  const maxTokens = options.maxTokens ?? 400;
  const index = options.index ?? 0;
  if (existsSync(join(path, 'dataset_dict.json'))) {
    const splits = (JSON.parse(readFileSync(join(path, 'dataset_dict.json'), 'utf8')) as { splits: string[] }).splits;
    const split = options.split ?? splits[0];
    if (split === undefined || !splits.includes(split))
      throw new Error(`${path}: no split ${options.split} (splits: ${splits.join(', ')})`);
    return `DatasetDict with splits ${splits.join(', ')}; showing split ${split}\n${await inspect(join(path, split), { ...options, split: undefined })}`;
  }
  if (existsSync(join(path, 'state.json'))) return inspectArrow(path, index, decode, color, maxTokens);
  if (statSync(path).isDirectory())
    return inspectBin(path, index, options.packedLength ?? DEFAULT_PACKED_LENGTH, decode, color, maxTokens);
  throw new Error(
    `${path}: not an Arrow datasets folder (no state.json / dataset_dict.json) nor a folder of .bin files`,
  );
}

async function inspectArrow(
  dir: string,
  index: number,
  decode: Decode,
  color: boolean,
  maxTokens: number,
): Promise<string> {
  const ds = await ArrowDataset.open(dir);
  try {
    const packed = ds.columns.includes('cumulative_len');
    let out = `${dir}: ${ds.length} ${packed ? 'packs' : 'samples'}; columns ${ds.columns.join(', ')}\n`;
    if (ds.length === 0) return out;
    if (index < 0 || index >= ds.length) throw new Error(`index ${index} out of range [0, ${ds.length})`);
    const row = await ds.get(index);
    const ids = row.input_ids!,
      labels = row.labels ?? row.input_ids!;
    const cuts = packed ? Array.from(row.cumulative_len!) : [];
    let loss = 0;
    for (const l of labels) if (l !== IGNORE_INDEX) loss++;
    out +=
      `\n${packed ? 'pack' : 'sample'} ${index}: ${ids.length} tokens, ${loss} with loss${packed ? `, ${cuts.length - 1} pieces` : ''} ` +
      `(${color ? `${DIM}grey${RESET}` : '[brackets]'} = no loss${packed ? ', ‖ = piece boundary' : ''})\n`;
    out += `${await renderTokens(ids, labels, cuts, decode, color, maxTokens)}\n`;
    // Lengths over (at most) 2000 evenly spaced rows: samples, or the pieces inside packs.
    const step = Math.max(1, Math.floor(ds.length / 2000));
    const lengths: number[] = [];
    let tokens = 0,
      lossAll = 0,
      rows = 0,
      rowLen = 0;
    for (let i = 0; i < ds.length; i += step) {
      const r = await ds.get(i);
      rows++;
      rowLen = Math.max(rowLen, r.input_ids!.length);
      tokens += r.input_ids!.length;
      for (const l of r.labels ?? []) if (l !== IGNORE_INDEX) lossAll++;
      if (packed) {
        const c = r.cumulative_len!;
        for (let k = 1; k < c.length; k++) lengths.push(c[k]! - c[k - 1]!);
      } else lengths.push(r.input_ids!.length);
    }
    out += `\n${packed ? 'piece' : 'sample'} length histogram${step > 1 ? ` (every ${step}th row)` : ''}:\n${histogram(lengths)}`;
    if (packed) {
      out +=
        `\npack utilisation: ${((100 * tokens) / (rows * rowLen)).toFixed(2)}% of ${rowLen}-token packs filled, ` +
        `${(lengths.length / rows).toFixed(2)} pieces/pack, ${((100 * lossAll) / Math.max(tokens, 1)).toFixed(2)}% tokens with loss\n`;
    } else {
      out += `\n${tokens} tokens in ${rows} rows, ${((100 * lossAll) / Math.max(tokens, 1)).toFixed(2)}% with loss\n`;
    }
    return out;
  } finally {
    await ds.close();
  }
}

async function inspectBin(
  dir: string,
  index: number,
  packedLength: number,
  decode: Decode,
  color: boolean,
  maxTokens: number,
): Promise<string> {
  const files = await dataOrder(dir, { fileType: '.bin' });
  if (files.length === 0) throw new Error(`${dir}: no .bin files`);
  const all: number[] = [];
  let out = `${dir}: ${files.length} .bin files\n`;
  let packs = 0,
    tokens = 0,
    waste = 0,
    at = index,
    shown = false;
  for (const f of files) {
    const meta = await readBinMeta(join(dir, f));
    let sum = 0;
    for (const l of meta.lengths) {
      all.push(l);
      sum += l;
    }
    tokens += sum;
    packs += Math.floor(sum / packedLength);
    waste += sum % packedLength;
    if (!shown && at < meta.count) {
      const bin = await BinFile.open(join(dir, f));
      const t = await bin.read(at);
      await bin.close();
      const { input_ids: ids, labels } = fromSignedTokens(t);
      out += `\nsample ${index} (${f} line ${at + 1}): ${t.length} tokens (${color ? `${DIM}grey${RESET}` : '[brackets]'} = no loss)\n`;
      out += `${await renderTokens(ids, labels, [], decode, color, maxTokens)}\n`;
      shown = true;
    } else if (!shown) {
      at -= meta.count;
    }
  }
  if (!shown) out += `\n(index ${index} is past the last sample)\n`;
  out += `\nsample length histogram (${all.length} samples, ${tokens} tokens):\n${histogram(all)}`;
  out += `\npacking at ${packedLength}: ${packs} packs, ${waste} tail tokens dropped (${((100 * (tokens - waste)) / Math.max(tokens, 1)).toFixed(2)}% of tokens packed)\n`;
  return out;
}
