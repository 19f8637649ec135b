import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// What every tokenizer backend shares: the Tokenizer interface and the reading of
// tokenizer_config.json. Its own module so that the backends (sentencepiece.ts) and the loader
// (tokenizer.ts, which imports them on demand) do not import each other.

/**
 * Which implementation encodes: weft's own byte-level BPE encoder (`fast`, fast-bpe.ts), the Rust
 * `tokenizers` N-API binding, pure-JS `@huggingface/tokenizers` (all read `tokenizer.json`), or
 * sentencepiece in WebAssembly (`tokenizer.model`, see sentencepiece.ts).
 */
export type Backend = 'fast' | 'native' | 'js' | 'sentencepiece';

/** How to load a tokenizer again (worker threads): plain data, structured-clone-able. */
export interface TokenizerSpec {
  /** The folder that holds `tokenizer.json` or `tokenizer.model` (already resolved from 'default' or a hub id). */
  dir: string;
  backend: Backend;
}

/**
 * A loaded tokenizer. `encode` never adds special tokens (xtuner encodes every piece with
 * `add_special_tokens=False` and adds BOS/EOS itself).
 */
export interface Tokenizer {
  readonly backend: Backend;
  /** Serialisable: `loadTokenizerFromSpec(t.spec)` gives the same tokenizer in a worker. */
  readonly spec: TokenizerSpec;
  /** BOS ids as xtuner's `get_bos_eos_token_ids` gives them: `[]` for Qwen tokenizers. */
  readonly bosIds: number[];
  readonly eosIds: number[];
  /** The BOS / EOS token texts (for chat templates), when the config names them. */
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  /** Vocabulary size including added tokens. */
  readonly vocabSize: number;
  /** `tokenizer_class` from tokenizer_config.json, when present. */
  readonly className: string | undefined;
  /** The Jinja chat template from tokenizer_config.json, when present. */
  readonly chatTemplate: string | undefined;
  encode(text: string): Promise<Int32Array>;
  encodeBatch(texts: string[]): Promise<Int32Array[]>;
  decode(ids: ArrayLike<number>): Promise<string>;
  tokenToId(token: string): number | undefined;
}

/** tokenizer_config.json (+ special_tokens_map.json, chat_template.jinja) as read here. */
export interface TokenizerConfig {
  tokenizer_class?: string;
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  chat_template?: string | { name: string; template: string }[];
  [k: string]: unknown;
}

/** The tokenizer folder's config, special tokens filled from special_tokens_map.json, chat template from chat_template.jinja. */
export function readConfig(dir: string): TokenizerConfig {
  const p = join(dir, 'tokenizer_config.json');
  const cfg: TokenizerConfig = existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as TokenizerConfig) : {};
  const sp = join(dir, 'special_tokens_map.json');
  if (existsSync(sp)) {
    const m = JSON.parse(readFileSync(sp, 'utf8')) as TokenizerConfig;
    cfg.bos_token ??= m.bos_token;
    cfg.eos_token ??= m.eos_token;
  }
  const jt = join(dir, 'chat_template.jinja');
  if (cfg.chat_template === undefined && existsSync(jt)) cfg.chat_template = readFileSync(jt, 'utf8');
  return cfg;
}

/** The text of a BOS/EOS entry, given as a string or as an AddedToken object. */
export function tokenContent(t: TokenizerConfig['bos_token']): string | undefined {
  if (t === null || t === undefined) return undefined;
  return typeof t === 'string' ? t : t.content;
}
