/**
 * The fast BPE encoder's verdict and tables, kept in weft's cache folder so a process starts
 * without redoing them: the equality gate (fast-gate.ts) runs once per tokenizer per machine, not
 * once per run, and the merge table (an 8 MB hash for Qwen3) is read, not rebuilt from
 * `tokenizer.json`, which is then not parsed at all.
 *
 * Where: `<cacheDir>/fast-bpe/<key>.tables`. The key hashes everything the verdict and tables
 * depend on: the bytes of `tokenizer.json`, the encoder's own source files, Node's version and
 * Unicode tables (the split regex's `\p{L}` and NFC come from V8/ICU), and the versions of the
 * reference libraries the gate compares with. A change to any makes a new key (the gate runs
 * again); older entries are left (they are small) and can be deleted with the folder.
 * A cache that cannot be written (read-only home, full disk) only costs the time it would save.
 *
 * File: `WEFTBPE1`, a u32 (LE) length, that much JSON (key, verdict, tables but the merge table,
 * the tokenizer.json parts chunking needs), zero padding to 4 bytes, then the merge table as
 * int32 in this machine's byte order (part of the key).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir, writeFileAtomicSync } from '@weft/core';
import type { FastBpeTables } from './fast-bpe.ts';
import type { TokenizerJsonShape } from './chunked-encode.ts';

const MAGIC = 'WEFTBPE1';
const ENCODER_SOURCES = ['./fast-bpe.ts', './fast-gate.ts', './onig-regex.ts', './onig-classes.ts', './fast-cache.ts'];

/** What the gate found: `diff` is null when the fast encoder gave the reference's ids on the whole sample. */
export interface GateVerdict {
  /** The backend it was compared with ('native', or 'js' where the binding does not load). */
  reference: 'native' | 'js';
  diff: string | null;
  /** Set when the fast encoder does not cover this tokenizer at all (why); the reference is used, silently. */
  unsupported?: string;
}

/** One cache entry: the verdict, and the tables when the fast encoder covers the tokenizer. */
export interface FastCacheEntry {
  key: string;
  gate: GateVerdict;
  tables?: FastBpeTables;
  /** The parts of tokenizer.json that decide chunking (chunked-encode.ts), so it need not be parsed. */
  shape?: TokenizerJsonShape;
}

function versionOf(pkg: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (
      (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version?: string }).version ?? '?'
    );
  } catch {
    return 'absent';
  }
}

let encoderHash: string | undefined;

/**
 * The cache key of the tokenizer in `dir` (a folder with `tokenizer.json`) on this machine's Node,
 * libraries and encoder code.
 *
 * @example
 * fastCacheKey(defaultTokenizerDir()); // '5f1c…' (64 hex)
 */
export function fastCacheKey(dir: string): string {
  if (encoderHash === undefined) {
    const h = createHash('sha256');
    for (const f of ENCODER_SOURCES) {
      const url = new URL(f, import.meta.url);
      h.update(f).update(existsSync(url) ? readFileSync(url) : Buffer.alloc(0));
    }
    encoderHash = h.digest('hex');
  }
  const tokenizer = createHash('sha256')
    .update(readFileSync(join(dir, 'tokenizer.json')))
    .digest('hex');
  const v = process.versions;
  const parts = {
    v: 1,
    tokenizer,
    endianness: endianness(),
    encoder: encoderHash,
    node: v.node,
    unicode: v.unicode,
    icu: v.icu,
    tokenizers: versionOf('tokenizers'),
    hfjs: versionOf('@huggingface/tokenizers'),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function entryPath(cacheDir: string, key: string): string {
  return join(cacheDir, 'fast-bpe', `${key}.tables`);
}

/**
 * The cached entry of `key`, or undefined when there is none (or it is unreadable: then the
 * caller redoes the work and writes it again). The merge table comes back on a SharedArrayBuffer.
 */
export function readFastCache(key: string, cacheDir = defaultCacheDir()): FastCacheEntry | undefined {
  let fd: number;
  try {
    fd = openSync(entryPath(cacheDir, key), 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString('latin1', 0, 8) !== MAGIC) return undefined;
    const jsonLen = head.readUInt32LE(8);
    if (12 + jsonLen > size) return undefined;
    const jsonBuf = Buffer.alloc(jsonLen);
    if (readSync(fd, jsonBuf, 0, jsonLen, 12) !== jsonLen) return undefined;
    const meta = JSON.parse(jsonBuf.toString('utf8')) as Omit<FastCacheEntry, 'tables'> & {
      tables?: Omit<FastBpeTables, 'h' | 'byteIds'> & { byteIds: number[] };
    };
    if (meta.key !== key) return undefined;
    const entry: FastCacheEntry = { key, gate: meta.gate, ...(meta.shape ? { shape: meta.shape } : {}) };
    if (meta.tables) {
      const at = (12 + jsonLen + 3) & ~3;
      const bytes = 4 * (4 << meta.tables.hBits);
      if (at + bytes !== size) return undefined;
      const sab = new SharedArrayBuffer(bytes);
      let got = 0;
      while (got < bytes) {
        const n = readSync(fd, new Uint8Array(sab, got), 0, bytes - got, at + got);
        if (n <= 0) return undefined;
        got += n;
      }
      entry.tables = { ...meta.tables, byteIds: Int32Array.from(meta.tables.byteIds), h: new Int32Array(sab) };
    }
    return entry;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Write `entry` (atomically; a failure to write is ignored: the cache only saves time). */
export function writeFastCache(entry: FastCacheEntry, cacheDir = defaultCacheDir()): void {
  const { tables, ...rest } = entry;
  const meta = tables ? { ...rest, tables: { ...tables, h: undefined, byteIds: Array.from(tables.byteIds) } } : rest;
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const at = (12 + json.length + 3) & ~3;
  const h = tables ? new Uint8Array(tables.h.buffer, tables.h.byteOffset, tables.h.byteLength) : new Uint8Array(0);
  const out = Buffer.alloc(at + h.length);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(json.length, 8);
  json.copy(out, 12);
  out.set(h, at);
  try {
    writeFileAtomicSync(entryPath(cacheDir, entry.key), out);
  } catch {
    // read-only or full: the next run gates again
  }
}
