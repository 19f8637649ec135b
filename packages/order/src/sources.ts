import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dataOrder } from './data-order.ts';
import { readFtdp } from './ftdp.ts';
import { internlmBinReader } from './internlm-bin.ts';
import { readJsonArray } from './json-array.ts';
import { readJsonl } from './jsonl.ts';
import type { CountedSource, ReadOptions } from './line-reader.ts';
import { readText } from './text.ts';
import { fromIterable } from '@weft/core';
import type { Inputs } from './inputs.ts';

/** The kinds of source file weft reads. */
export type SourceKind = 'internlm-bin' | 'jsonl' | 'ftdp' | 'json-array' | 'text';

/**
 * The kind of a data file, by suffix; a `.json` file is ftdp when its first line is a JSON array
 * of `{role, ...}` messages, else a JSON array document. `undefined` for files weft does not read.
 *
 * @example
 * await detectKind('data/sample/ftdp/chat_en.json'); // 'ftdp'
 */
export async function detectKind(path: string): Promise<SourceKind | undefined> {
  const name = path.replace(/^.*\//, '');
  if (name.endsWith('.bin')) return 'internlm-bin';
  if (name.endsWith('.jsonl')) return 'jsonl';
  if (name.endsWith('.txt')) return name === 'data_order.txt' ? undefined : 'text';
  if (!name.endsWith('.json')) return undefined;
  return (await firstLineIsConversation(path)) ? 'ftdp' : 'json-array';
}

async function firstLineIsConversation(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    const first = buf.toString('utf8', 0, nl < 0 ? bytesRead : nl);
    const v: unknown = JSON.parse(first);
    return Array.isArray(v) && v.length > 0 && v.every((m) => m !== null && typeof m === 'object' && 'role' in m);
  } catch {
    return false; // a multi-line JSON document's first line does not parse on its own
  } finally {
    await fh.close();
  }
}

/**
 * Read inputs of one kind with the matching reader (records typed loosely; use the specific
 * reader when the record type matters).
 *
 * @example
 * const recs = readSource(['a.jsonl'], 'jsonl', { onError: 'skip' });
 */
export function readSource(inputs: Inputs, kind: SourceKind, options: ReadOptions = {}): CountedSource<unknown> {
  switch (kind) {
    case 'jsonl':
      return readJsonl(inputs, options);
    case 'ftdp':
      return readFtdp(inputs, options);
    case 'json-array':
      return readJsonArray(inputs, options);
    case 'text':
      return readText(inputs, options);
    case 'internlm-bin': {
      const r = internlmBinReader({ onError: options.onError });
      return Object.assign(r(typeof inputs === 'string' ? fromIterable([inputs]) : fromIterable(inputs)), {
        stats: r.stats,
      });
    }
  }
}

/** What {@link scanSources} found for one kind. */
export interface SourceSummary {
  kind: SourceKind;
  /** Paths relative to the folder, in data order. */
  files: string[];
  bytes: number;
  /** Records read (only with `read: true`). */
  records?: number;
  /** Rejected or dropped lines by reason (only with `read: true`). */
  rejected?: Record<string, number>;
  /** Tokens in the records (InternLM `.bin` only, with `read: true`). */
  tokens?: number;
}

/**
 * List the data files under a folder by kind, in data order, optionally reading them all to count
 * records (bad lines counted, not fatal).
 *
 * @example
 * for (const s of await scanSources('data/sample', { read: true }))
 *   console.log(s.kind, s.files.length, s.records);
 */
export async function scanSources(folder: string, options: { read?: boolean } = {}): Promise<SourceSummary[]> {
  const all = await dataOrder(folder, { fileType: '' });
  const byKind = new Map<SourceKind, SourceSummary>();
  for (const rel of all) {
    const kind = await detectKind(join(folder, rel));
    if (kind === undefined) continue;
    let s = byKind.get(kind);
    if (s === undefined) byKind.set(kind, (s = { kind, files: [], bytes: 0 }));
    s.files.push(rel);
    s.bytes += (await stat(join(folder, rel))).size;
  }
  const order: SourceKind[] = ['internlm-bin', 'ftdp', 'jsonl', 'json-array', 'text'];
  const out = order.flatMap((k) => (byKind.has(k) ? [byKind.get(k)!] : []));
  if (options.read) {
    for (const s of out) {
      const src = readSource(
        s.files.map((f) => join(folder, f)),
        s.kind,
        { onError: 'skip' },
      );
      let records = 0,
        tokens = 0;
      for await (const r of src) {
        records++;
        if (s.kind === 'internlm-bin') tokens += (r as { tokens: Int32Array }).tokens.length;
      }
      s.records = records;
      s.rejected = src.stats.toJSON().rejected;
      if (s.kind === 'internlm-bin') s.tokens = tokens;
    }
  }
  return out;
}
