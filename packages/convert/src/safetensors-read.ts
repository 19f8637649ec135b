import { openSync, readSync, closeSync, fstatSync, statSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@weft/core';
import { DTYPE_SIZE, isDType, numel, readRange, streamRange, type DType, type TensorRecord } from './tensor.ts';

/** The reference reader (safetensors' `tensor.rs`) refuses headers larger than this. */
export const MAX_HEADER_SIZE = 100_000_000;

/** What a safetensors header says, validated. */
export interface SafetensorsHeader {
  file: string;
  metadata: Record<string, string> | undefined;
  /** Byte offset of the data buffer in the file (8 + header length). */
  dataStart: number;
  /** Tensors in header order, each reading its bytes lazily. */
  tensors: TensorRecord[];
}

/** Names of the top-level keys of a JSON object text, in order, duplicates included. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1) {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] === ':') keys.push(JSON.parse(text.slice(start, i + 1)) as string);
      }
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

/**
 * Read and validate a safetensors header; tensor bytes stay on disk until `read()`.
 * Checks what the reference reader checks: the 8-byte length (capped at 100 MB, never
 * allocated before the check), the JSON, dtypes, shapes against byte ranges, and that the
 * ranges cover the data buffer exactly (no holes, overlaps, duplicates, nothing past the end).
 *
 * @example
 * const { tensors, metadata } = readSafetensorsHeader('model.safetensors');
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openSync(file, 'r');
  let size: number;
  const head = Buffer.alloc(8);
  try {
    size = fstatSync(fd).size;
    if (size < 8)
      throw new DataError(
        `file is ${size} bytes, too short for a safetensors header (8-byte length first)`,
        { file, offset: 0 },
        { reason: 'truncated' },
      );
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  const n = head.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_SIZE))
    throw new DataError(
      `header length ${n} exceeds the 100 MB limit of the safetensors format; not a safetensors file or corrupt`,
      { file, offset: 0 },
      { reason: 'header-too-large' },
    );
  const headerLen = Number(n);
  if (8 + headerLen > size)
    throw new DataError(
      `header length ${headerLen} runs past the end of the ${size}-byte file (truncated?)`,
      { file, offset: 0 },
      { reason: 'truncated' },
    );
  const text = Buffer.from(readRange(file, 8, headerLen)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new DataError(
      `header is not valid JSON: ${(e as Error).message}`,
      { file, offset: 8 },
      { reason: 'malformed-json' },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new DataError('header must be a JSON object', { file, offset: 8 }, { reason: 'bad-header' });
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k))
      throw new DataError(
        `duplicate tensor name ${JSON.stringify(k)} in header`,
        { file, offset: 8 },
        { reason: 'duplicate' },
      );
    seen.add(k);
  }
  const dataStart = 8 + headerLen;
  const bufferLen = size - dataStart;
  let metadata: Record<string, string> | undefined;
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        typeof v !== 'object' ||
        v === null ||
        Array.isArray(v) ||
        !Object.values(v).every((x) => typeof x === 'string')
      ) {
        throw new DataError('__metadata__ must map strings to strings', { file, offset: 8 }, { reason: 'bad-header' });
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const bad = (what: string): never => {
      throw new DataError(`tensor ${JSON.stringify(name)}: ${what}`, { file, offset: 8 }, { reason: 'bad-header' });
    };
    if (typeof v !== 'object' || v === null) bad('entry must be an object with dtype, shape, data_offsets');
    const { dtype, shape, data_offsets: offs } = v as Record<string, unknown>;
    if (!isDType(dtype)) bad(`unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      bad('shape must be a list of non-negative integers');
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      bad('data_offsets must be [begin, end]');
    const [begin, end] = offs as [number, number];
    const dt = dtype as DType;
    const sh = shape as number[];
    if (end < begin) bad(`data_offsets [${begin}, ${end}] end before begin`);
    const want = numel(sh) * DTYPE_SIZE[dt];
    if (end - begin !== want)
      bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dt}${JSON.stringify(sh)} needs ${want}`);
    entries.push({ name, dtype: dt, shape: sh, begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.end > bufferLen)
      throw new DataError(
        `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] run past the end of the ${bufferLen}-byte data buffer (truncated file?)`,
        { file, offset: dataStart + e.begin },
        { reason: 'out-of-bounds' },
      );
    if (e.begin < pos)
      throw new DataError(
        `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${pos})`,
        { file, offset: dataStart + e.begin },
        { reason: 'overlap' },
      );
    if (e.begin > pos)
      throw new DataError(
        `hole in the data buffer: bytes ${pos}..${e.begin} belong to no tensor`,
        { file, offset: dataStart + pos },
        { reason: 'hole' },
      );
    pos = e.end;
  }
  if (pos !== bufferLen)
    throw new DataError(
      `data buffer is ${bufferLen} bytes but the tensors cover ${pos}`,
      { file, offset: dataStart + pos },
      { reason: 'hole' },
    );
  const tensors = entries.map((e): TensorRecord => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.shape,
    nbytes: e.end - e.begin,
    source: { file, offset: dataStart + e.begin },
    read: async () => readRange(file, dataStart + e.begin, e.end - e.begin),
    stream: (chunk?: number) => streamRange(file, dataStart + e.begin, e.end - e.begin, chunk),
  }));
  return { file, metadata, dataStart, tensors };
}

/**
 * Tensors of a safetensors file, a sharded folder (`model.safetensors.index.json`), or an
 * index file, as a lazy source.
 *
 * @example
 * for await (const t of readSafetensors('out/')) console.log(t.name, t.shape);
 */
export async function* readSafetensors(path: string): AsyncGenerator<TensorRecord> {
  for (const f of safetensorsFiles(path)) yield* readSafetensorsHeader(f).tensors;
}

/** The files behind a safetensors path: itself, or the shards an index lists, in order. */
export function safetensorsFiles(path: string): string[] {
  let index = path;
  if (statSync(path).isDirectory()) {
    index = join(path, 'model.safetensors.index.json');
    if (!existsSync(index)) {
      const single = join(path, 'model.safetensors');
      if (existsSync(single)) return [single];
      throw new DataError('no model.safetensors or model.safetensors.index.json in this folder', { file: path });
    }
  } else if (!path.endsWith('.json')) return [path];
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(index, 'utf8'));
  } catch (e) {
    throw new DataError(
      `index is not valid JSON: ${(e as Error).message}`,
      { file: index },
      { reason: 'malformed-json' },
    );
  }
  const map = (j as { weight_map?: unknown })?.weight_map;
  if (typeof map !== 'object' || map === null)
    throw new DataError('index has no weight_map object', { file: index }, { reason: 'bad-header' });
  const dir = join(index, '..');
  return [...new Set(Object.values(map as Record<string, string>))].map((f) => join(dir, f));
}
