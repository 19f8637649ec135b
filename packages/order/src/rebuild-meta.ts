import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, writeFileAtomic } from '@weft/core';
import { dataOrder } from './data-order.ts';
import { encodeNpy, readNpy } from './npy.ts';
import { metaFromNpy } from './internlm-bin.ts';
import { parseTokensLine } from './tokens-line.ts';

/** The rows of a `.bin.meta`: byte offset and token count of every line. */
export interface MetaRows {
  count: number;
  offsets: Float64Array;
  lengths: Int32Array;
}

/**
 * Read a `.bin` once, front to back, and list where each line starts and how many tokens it
 * holds, in reads of `chunkSize` bytes. Memory: the rows (12 bytes per line) and the longest line, never the whole file. A line
 * that is not `{"tokens": [...]}` is a DataError naming its line and byte.
 *
 * @example
 * const rows = await scanBinRows('data/en/a.bin');
 * rows.count; rows.offsets[1]; rows.lengths[1];
 */
export async function scanBinRows(binPath: string, options: { chunkSize?: number } = {}): Promise<MetaRows> {
  let offsets = new Float64Array(1024),
    lengths = new Int32Array(1024);
  let count = 0;
  const push = (bytes: Uint8Array, offset: number): void => {
    const r = parseTokensLine(bytes, 0, bytes.length);
    if (!r.ok)
      throw new DataError(
        `${r.detail}; a .meta can only index lines of {"tokens": [...]}`,
        { file: binPath, line: count + 1, offset },
        { reason: r.reason },
      );
    if (count === offsets.length) {
      const o = new Float64Array(count * 2),
        l = new Int32Array(count * 2);
      o.set(offsets);
      l.set(lengths);
      offsets = o;
      lengths = l;
    }
    offsets[count] = offset;
    lengths[count++] = r.tokens.length;
  };
  let pending: Buffer[] = [];
  let lineStart = 0; // file offset of the line being assembled
  let pos = 0; // file offset of the current chunk
  for await (const chunk of createReadStream(binPath, {
    highWaterMark: options.chunkSize ?? 1 << 23,
  }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl + 1);
      push(pending.length > 0 ? Buffer.concat([...pending, piece]) : piece, lineStart);
      pending = [];
      lineStart = pos + nl + 1;
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
    pos += chunk.length;
  }
  // InternLM ends every line with a newline; a last line without one is still a line (xtuner reads it).
  if (pending.length > 0) push(Buffer.concat(pending), lineStart);
  return { count, offsets: offsets.subarray(0, count), lengths: lengths.subarray(0, count) };
}

/**
 * The `.bin.meta` bytes InternLM's tools/tokenizer.py writes for these rows:
 * `np.save(f, np.array(meta, dtype=np.int32))`, shape (N, 2). Past 2 GiB of `.bin` the offsets do
 * not fit int32 (the tool would write wrong ones): int64 then, which xtuner reads the same way.
 * An empty `.bin` gets shape (0, 2) (the tool's `np.array([])` gives (0,), which xtuner cannot index).
 *
 * @example
 * await writeFileAtomic('a.bin.meta', metaBytes(await scanBinRows('a.bin')));
 */
export function metaBytes(rows: MetaRows): Uint8Array {
  const n = rows.count;
  const wide = n > 0 && rows.offsets[n - 1]! > 0x7fffffff;
  const a = wide ? new BigInt64Array(n * 2) : new Int32Array(n * 2);
  for (let i = 0; i < n; i++) {
    if (wide) {
      (a as BigInt64Array)[2 * i] = BigInt(rows.offsets[i]!);
      (a as BigInt64Array)[2 * i + 1] = BigInt(rows.lengths[i]!);
    } else {
      (a as Int32Array)[2 * i] = rows.offsets[i]!;
      (a as Int32Array)[2 * i + 1] = rows.lengths[i]!;
    }
  }
  return encodeNpy(a, [n, 2]);
}

/** What {@link rebuildMeta} did with one `.bin`. */
export interface MetaResult {
  bin: string;
  lines: number;
  /** written: there was none; matches: the existing one has the same rows (left as it is); differs: left as it is, use `rewrite`; rewritten: replaced. */
  status: 'written' | 'matches' | 'differs' | 'rewritten';
  detail?: string;
}

async function existingRows(metaPath: string, binPath: string): Promise<{ rows?: MetaRows; problem?: string }> {
  try {
    return { rows: metaFromNpy(await readNpy(metaPath), binPath, metaPath) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: (e as Error).message };
  }
}

function sameRows(a: MetaRows, b: MetaRows): string | undefined {
  if (a.count !== b.count) return `it lists ${a.count} lines, the .bin has ${b.count}`;
  for (let i = 0; i < a.count; i++) {
    if (a.offsets[i] !== b.offsets[i] || a.lengths[i] !== b.lengths[i]) {
      return `row ${i}: (${a.offsets[i]}, ${a.lengths[i]}) where the .bin gives (${b.offsets[i]}, ${b.lengths[i]})`;
    }
  }
  return undefined;
}

/**
 * `weft meta`: build the `.bin.meta` of a `.bin` (or of every `.bin` under a folder) from the
 * `.bin` itself, streaming, written atomically. A missing meta is written; an existing one is
 * compared row by row and left alone when it matches (also when its dtype differs), or when it
 * differs unless `rewrite` is set: a meta weft did not write is never replaced silently.
 *
 * @example
 * for (const r of await rebuildMeta('data/tokenized')) console.log(r.bin, r.status);
 */
export async function rebuildMeta(path: string, options: { rewrite?: boolean } = {}): Promise<MetaResult[]> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new DataError('does not exist', { file: path }, { reason: 'missing-file' });
  const bins = st.isDirectory() ? (await dataOrder(path, { fileType: '.bin' })).map((f) => join(path, f)) : [path];
  if (!st.isDirectory() && !path.endsWith('.bin'))
    throw new DataError(
      'is not a .bin file (give a .bin, or a folder to do every .bin under it)',
      { file: path },
      { reason: 'not-bin' },
    );
  const out: MetaResult[] = [];
  for (const bin of bins) {
    const rows = await scanBinRows(bin);
    const metaPath = `${bin}.meta`;
    const old = await existingRows(metaPath, bin);
    const diff = old.problem ?? (old.rows ? sameRows(old.rows, rows) : undefined);
    if (old.rows && diff === undefined) {
      out.push({ bin, lines: rows.count, status: 'matches' });
      continue;
    }
    if (diff !== undefined && !options.rewrite) {
      out.push({ bin, lines: rows.count, status: 'differs', detail: diff });
      continue;
    }
    await writeFileAtomic(metaPath, metaBytes(rows));
    out.push({
      bin,
      lines: rows.count,
      status: diff === undefined ? 'written' : 'rewritten',
      ...(diff === undefined ? {} : { detail: diff }),
    });
  }
  return out;
}
