/**
 * Encoding one huge text in pieces, with ids identical to encoding it whole.
 *
 * Why: the `tokenizers` library keeps ~100 bytes of bookkeeping per input byte while it encodes
 * (per-byte alignments, one normalized string per pre-token, offsets and token strings), so one
 * 20 MB text peaks near 3 GB. Cut into pieces of 64 k characters, encoded one at a time with a
 * garbage collection every 1 M characters, the peak stays within a few tens of MB whatever the
 * text's size (measured: 29 MB over the baseline for a 20 MB text).
 *
 * When it is safe: the tokenizer must cut its input into pre-tokens that BPE encodes one by one
 * (BPE never merges across pre-tokens), and the cut must be a place where the tokenizer's own
 * pre-tokenizer always ends a pre-token, whatever comes after. That holds for the byte-level BPE
 * pre-tokenizers of GPT-2, Llama 3 and Qwen 2/2.5/3 (listed below): each regex alternative that
 * can match a letter is a contraction (`'s`, ...) or `X?\p{L}+`, so a letter followed by a space,
 * a newline or CJK punctuation always ends a pre-token, and the regexes have no lookbehind, so the
 * next pre-token is found the same way in the piece as in the whole text. The cut's left
 * character is an ASCII letter or a CJK ideograph (stable in every Unicode version the regex
 * engine may use). NFC (Qwen's normalizer) never composes across those right-hand characters.
 * Added tokens (`<|im_end|>`, ...) are matched before all this, so no cut is made within reach
 * of one. Any other tokenizer (sentencepiece, Metaspace, WordPiece, unknown regexes) is encoded
 * whole; the `--max-record-bytes` guard bounds it instead.
 */

/** Pre-tokenizer regexes known to end a pre-token after a letter followed by a non-letter. */
const SAFE_SPLIT_PATTERNS = new Set([
  // Qwen 2 / 2.5 / 3
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  // Llama 3
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
]);

interface PreTokenizerJson {
  type?: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { Regex?: string };
  behavior?: string;
  invert?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
}
/** The parts of tokenizer.json that decide whether chunking is safe. */
export interface TokenizerJsonShape {
  normalizer?: { type?: string; normalizers?: { type?: string }[] } | null;
  pre_tokenizer?: PreTokenizerJson | null;
  model?: { type?: string; dropout?: number | null };
  added_tokens?: { content: string }[];
}

/** What {@link encodeChunked} needs to know about a tokenizer that may be chunked. */
export interface ChunkSafety {
  /** Texts of the added tokens: no cut is made within reach of one. */
  addedTokens: string[];
}

function safePreTokenizer(p: PreTokenizerJson | null | undefined): boolean {
  if (!p) return false;
  if (p.type === 'ByteLevel') return p.use_regex === true && p.add_prefix_space !== true; // GPT-2's regex
  if (p.type !== 'Sequence' || p.pretokenizers?.length !== 2) return false;
  const [split, bl] = p.pretokenizers;
  return (
    split!.type === 'Split' &&
    split!.behavior === 'Isolated' &&
    split!.invert !== true &&
    SAFE_SPLIT_PATTERNS.has(split!.pattern?.Regex ?? '') &&
    bl!.type === 'ByteLevel' &&
    bl!.use_regex === false &&
    bl!.add_prefix_space !== true
  );
}

/**
 * Whether texts of this tokenizer may be encoded in pieces (see the file comment), from its
 * `tokenizer.json`; `undefined` when they must be encoded whole.
 *
 * @example
 * const safety = chunkSafety(JSON.parse(readFileSync('tokenizer.json', 'utf8')));
 */
export function chunkSafety(json: TokenizerJsonShape): ChunkSafety | undefined {
  const n = json.normalizer;
  const norms = n == null ? [] : n.type === 'Sequence' ? (n.normalizers ?? []) : [n];
  if (!norms.every((x) => x.type === 'NFC')) return undefined;
  if (json.model?.type !== 'BPE' || (json.model.dropout ?? 0) > 0) return undefined;
  if (!safePreTokenizer(json.pre_tokenizer)) return undefined;
  return { addedTokens: (json.added_tokens ?? []).map((a) => a.content).filter((c) => c.length > 0) };
}

/** Texts at least this long are encoded in pieces (when safe). */
export const CHUNK_MIN_CHARS = 1 << 20;
/** The target piece size: small enough to bound the tokenizer's memory, large enough to amortise a call. */
export const CHUNK_TARGET_CHARS = 1 << 16;

const LEFT = /[A-Za-z\u4e00-\u9fff]/;
const RIGHT = new Set([' ', '\n', '\uff0c', '\u3002']); // space, newline, '，', '。'

function safeCut(text: string, p: number, added: string[], reach: number): boolean {
  if (!RIGHT.has(text[p]!) || !LEFT.test(text[p - 1]!)) return false;
  if (added.length === 0) return true;
  const around = text.slice(Math.max(0, p - reach), p + reach);
  return !added.some((t) => around.includes(t));
}

/**
 * Cut `text` into pieces of about `target` characters at safe places; a text with no safe place
 * stays one piece. Joined, the pieces are the text.
 *
 * @example
 * const pieces = safePieces(bigText, { addedTokens: ['<|im_end|>'] });
 */
export function safePieces(text: string, safety: ChunkSafety, target = CHUNK_TARGET_CHARS): string[] {
  const reach = Math.max(0, ...safety.addedTokens.map((t) => t.length)) + 1;
  const out: string[] = [];
  let from = 0;
  while (text.length - from > target) {
    let p = from + target;
    while (p < text.length && !safeCut(text, p, safety.addedTokens, reach)) p++;
    if (p >= text.length) break;
    out.push(text.slice(from, p));
    from = p;
  }
  out.push(text.slice(from));
  return out;
}

/** Options of {@link encodeChunked}. */
export interface EncodeChunkedOptions {
  /** Characters per piece. */
  target?: number;
  /** Called after every `releaseEvery` pieces, to free what the encoder left behind (core's `fullGc`). */
  release?: () => void;
  releaseEvery?: number;
}

/**
 * Encode one text in pieces (one piece per `encodeMany` call, so one piece's working set is live
 * at a time); the ids equal encoding the text whole.
 *
 * @example
 * const ids = await encodeChunked(text, safety, (ts) => tok.encodeBatch(ts), { release: fullGc }); // fullGc from @weft/core
 */
export async function encodeChunked(
  text: string,
  safety: ChunkSafety,
  encodeMany: (texts: string[]) => Promise<Int32Array[]>,
  o: EncodeChunkedOptions = {},
): Promise<Int32Array> {
  const pieces = safePieces(text, safety, o.target ?? CHUNK_TARGET_CHARS);
  if (pieces.length === 1) return (await encodeMany(pieces))[0]!;
  const parts: Int32Array[] = [];
  let n = 0;
  const every = o.releaseEvery ?? 16;
  for (let k = 0; k < pieces.length; k++) {
    const ids = (await encodeMany([pieces[k]!]))[0]!;
    parts.push(ids);
    n += ids.length;
    if (o.release && (k + 1) % every === 0) o.release();
  }
  const out = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  parts.length = 0;
  o.release?.(); // the pieces' ids and encodings: gone before the caller copies `out` again
  return out;
}
