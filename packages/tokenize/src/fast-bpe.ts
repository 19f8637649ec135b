import { onigToJs } from './onig-regex.ts';
import { NFC_UNSAFE, ONIG_S } from './onig-classes.ts';

declare global {
  // ES2024, in Node 20; the repository's TypeScript lib is older.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/** The parts of a `tokenizer.json` the fast encoder reads. */
export interface TokenizerJson {
  normalizer?: { type: string; [k: string]: unknown } | null;
  pre_tokenizer?: PreTokenizerJson | null;
  model?: {
    type?: string;
    vocab?: Record<string, number>;
    merges?: (string | [string, string])[];
    dropout?: number | null;
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
  };
  added_tokens?: AddedTokenJson[];
}

interface PreTokenizerJson {
  type: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { Regex?: string; String?: string };
  behavior?: string;
  invert?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** GPT-2's split pattern: what HF's ByteLevel pre-tokenizer runs when `use_regex` is true. */
const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** GPT-2's bytes_to_unicode: the printable character that stands for each byte in a byte-level vocabulary. */
function byteLevelChars(): string[] {
  const chars: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return chars;
}

const WHITE = new RegExp(`[${ONIG_S}]`, 'u');
const NEEDS_NFC = /[^\0-\u02ff]/; // below U+0300 nothing composes, so NFC is the identity
const UNSAFE = new RegExp(`[${NFC_UNSAFE}]`, 'u');
const SAFE_RUNS = new RegExp(`[^${NFC_UNSAFE}]+`, 'gu');
const HEAP_FROM = 64; // words longer than this (bytes) merge through a heap, O(n log n)
// The piece cache: pieces up to CACHE_PIECE_MAX characters, at most CACHE_MAX of them (cleared
// when full; HF tokenizers keeps 10 000 words too). Larger bounds cost more than they save: on
// the 16-core device machine, caching pieces up to 64 characters in up to 262 144 entries (mostly
// once-seen CJK runs) made 16 encoder threads run at 67% of one thread's speed each; with these
// bounds they ran at 100%+ and one thread as fast (bench/RESULTS.md, bench/cpu-ceiling.ts).
const CACHE_MAX = 10_000;
const CACHE_PIECE_MAX = 16;
const SHIFT32 = 4294967296;

/**
 * What the encoder needs, and nothing it can rebuild: plain data that crosses threads (the merge
 * table on a SharedArrayBuffer is shared, not copied) and goes into weft's cache (fast-cache.ts).
 * The vocabulary itself is not in it: only `tokenToId` needs it, and reads it when first asked.
 */
export interface FastBpeTables {
  vocabSize: number;
  /** The id of each byte's one-byte token. */
  byteIds: Int32Array;
  /** Merges in an open-addressing hash table keyed by the pair of ids: slots of [a, b, rank, new id] (4 << hBits ints). */
  hBits: number;
  h: Int32Array;
  split: { source: string; flags: string };
  prefixSpace: 'none' | 'segment' | 'piece';
  nfc: boolean;
  added: AddedTokenJson[];
  /** `ignore_merges`: pieces that are a whole vocabulary entry, as text → id. */
  wholeWord: [string, number][] | null;
}

/**
 * Byte-level BPE (GPT-2, Llama-3, Qwen2/3 `tokenizer.json`) encoded in TypeScript with ids identical
 * to HF `tokenizers`: added tokens split first (leftmost-longest, `lstrip`/`rstrip`), then NFC when
 * the normalizer says so, the split regex once per text, and merges by rank on each piece's bytes,
 * with a bounded piece → ids cache. No offsets are tracked.
 *
 * `FastBpe.fromJson` returns a string (why not) for anything else; the caller then uses the binding.
 *
 * @example
 * const bpe = FastBpe.fromJson(JSON.parse(readFileSync('tokenizer.json', 'utf8')));
 * if (typeof bpe !== 'string') bpe.encode('hello world'); // Int32Array [14990, 1879] (Qwen3)
 */
export class FastBpe {
  /** Ids of all tokens, added tokens included (as `tokenizers`' `get_vocab_size(true)`). */
  readonly vocabSize: number;
  /** Shareable with another thread or a file: `FastBpe.fromTables(bpe.tables, ...)` encodes the same. */
  readonly tables: FastBpeTables;
  private vocab: Map<string, number> | undefined;
  private readonly loadVocab: () => Map<string, number>;
  private readonly added: Map<string, AddedTokenJson>;
  private readonly addedRe: RegExp | null;
  private readonly split: RegExp;
  private readonly nfc: boolean;
  private readonly prefixSpace: 'none' | 'segment' | 'piece';
  private readonly byteIds: Int32Array;
  private readonly wholeWord: Map<string, number> | null;
  // Merges in an open-addressing hash table keyed by the pair of ids: slots of [a, b, rank, new id]
  // side by side, so a lookup touches one cache line.
  private readonly hBits: number;
  private readonly h: Int32Array;
  private readonly cache = new Map<string, number | Int32Array>();
  // Scratch buffers, grown as needed.
  private bytes = new Uint8Array(256);
  private sym = new Int32Array(256);
  private rk = new Int32Array(256);
  private nid = new Int32Array(256);
  private out = new Int32Array(4096);
  private outLen = 0;

  private constructor(t: FastBpeTables, loadVocab: () => Map<string, number>) {
    this.tables = t;
    this.vocabSize = t.vocabSize;
    this.loadVocab = loadVocab;
    this.byteIds = t.byteIds;
    this.hBits = t.hBits;
    this.h = t.h;
    this.split = new RegExp(t.split.source, t.split.flags);
    this.prefixSpace = t.prefixSpace;
    this.nfc = t.nfc;
    this.added = new Map(t.added.map((a) => [a.content, a]));
    const contents = [...this.added.keys()].sort((x, y) => y.length - x.length);
    // JavaScript takes the first alternative that matches; longest first makes that leftmost-longest (Aho-Corasick's LeftmostLongest).
    this.addedRe = contents.length
      ? new RegExp(contents.map((c) => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')).join('|'), 'gu')
      : null;
    this.wholeWord = t.wholeWord ? new Map(t.wholeWord) : null;
  }

  /** Build from a parsed `tokenizer.json`, or say why this tokenizer is not covered. */
  static fromJson(json: TokenizerJson): FastBpe | string {
    const why = unsupported(json);
    if (typeof why === 'string') return why;
    const vocab = new Map(Object.entries(json.model!.vocab!));
    const bpe = new FastBpe(buildTables(json, why.split, why.prefixSpace, vocab), () => vocab);
    bpe.vocab = vocab;
    return bpe;
  }

  /**
   * An encoder over tables another `FastBpe` made from the same `tokenizer.json` (another thread's,
   * or weft's cached copy); `loadVocab` gives the vocabulary when `tokenToId` first needs it.
   *
   * @example
   * const copy = FastBpe.fromTables(bpe.tables, () => new Map(Object.entries(json.model.vocab)));
   */
  static fromTables(tables: FastBpeTables, loadVocab: () => Map<string, number>): FastBpe {
    return new FastBpe(tables, loadVocab);
  }

  /** The added tokens' texts (special tokens and the like), for the equality gate's sample. */
  addedTokens(): string[] {
    return [...this.added.keys()];
  }

  /** Token id of a vocabulary entry or added token (`tokenizers`' `token_to_id`). */
  tokenToId(token: string): number | undefined {
    const added = this.added.get(token);
    if (added) return added.id;
    this.vocab ??= this.loadVocab();
    return this.vocab.get(token);
  }

  /** Ids of `text`, no special tokens added (`encode(text, add_special_tokens=False).ids`). */
  encode(text: string): Int32Array {
    this.outLen = 0;
    // The binding receives text as UTF-8, where a lone surrogate becomes U+FFFD.
    if (!text.isWellFormed()) text = text.toWellFormed();
    const re = this.addedRe;
    if (re === null) this.segment(text);
    else {
      re.lastIndex = 0;
      let from = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        const tok = this.added.get(m[0])!;
        let start = m.index;
        let stop = start + m[0].length;
        if (tok.lstrip) {
          while (start > from && WHITE.test(text[start - 1]!)) start--;
        }
        if (tok.rstrip) {
          while (stop < text.length && WHITE.test(text[stop]!)) stop++;
          re.lastIndex = stop;
        }
        if (start > from) this.segment(text.slice(from, start));
        this.push(tok.id);
        from = stop;
      }
      if (from < text.length) this.segment(from === 0 ? text : text.slice(from));
    }
    return this.out.slice(0, this.outLen);
  }

  /** Text between added tokens: normalize, split, and BPE each piece. */
  private segment(seg: string): void {
    if (this.nfc && NEEDS_NFC.test(seg)) seg = nfc(seg);
    if (seg.length === 0) return;
    if (this.prefixSpace === 'segment' && seg.charCodeAt(0) !== 0x20) seg = ` ${seg}`;
    const re = this.split;
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(seg)) !== null) {
      if (m.index > last) this.piece(seg.slice(last, m.index)); // Isolated: the text between matches is a piece too
      this.piece(m[0]);
      last = re.lastIndex;
    }
    if (last < seg.length) this.piece(seg.slice(last));
  }

  private piece(p: string): void {
    if (this.prefixSpace === 'piece' && p.charCodeAt(0) !== 0x20) p = ` ${p}`;
    let v = this.cache.get(p);
    if (v === undefined) {
      // A long piece is seldom seen twice: merge it straight into the output, keep nothing.
      if (p.length > CACHE_PIECE_MAX) {
        const whole = this.wholeWord?.get(p);
        if (whole !== undefined) return this.push(whole);
        const len = this.merge(p);
        if (this.outLen + len > this.out.length) this.grow(this.outLen + len);
        this.out.set(this.sym.subarray(0, len), this.outLen);
        this.outLen += len;
        return;
      }
      v = this.word(p);
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(p, v);
    }
    if (typeof v === 'number') this.push(v);
    else {
      if (this.outLen + v.length > this.out.length) this.grow(this.outLen + v.length);
      this.out.set(v, this.outLen);
      this.outLen += v.length;
    }
  }

  private push(id: number): void {
    if (this.outLen === this.out.length) this.grow(this.outLen + 1);
    this.out[this.outLen++] = id;
  }

  private grow(min: number): void {
    const next = new Int32Array(Math.max(min, this.out.length * 2));
    next.set(this.out.subarray(0, this.outLen));
    this.out = next;
  }

  /** BPE of one piece: a single id, or several. */
  private word(p: string): number | Int32Array {
    if (this.wholeWord !== null) {
      const id = this.wholeWord.get(p);
      if (id !== undefined) return id;
    }
    const len = this.merge(p);
    return len === 1 ? this.sym[0]! : this.sym.slice(0, len);
  }

  /** Merge the bytes of `p` into this.sym[0..n), returning n. */
  private merge(p: string): number {
    const n = this.utf8(p);
    if (this.sym.length < n) {
      const size = n * 2;
      this.sym = new Int32Array(size);
      this.rk = new Int32Array(size);
      this.nid = new Int32Array(size);
    }
    const sym = this.sym;
    for (let i = 0; i < n; i++) sym[i] = this.byteIds[this.bytes[i]!]!;
    if (n === 1) return 1;
    return n > HEAP_FROM ? this.mergeHeap(n) : this.mergeScan(n);
  }

  /** Lowest rank first, leftmost on ties, until no pair merges: `tokenizers`' Word::merge_all, by scanning. */
  private mergeScan(n: number): number {
    const sym = this.sym;
    const rk = this.rk;
    const nid = this.nid;
    for (let i = 0; i < n - 1; i++) this.pairAt(i);
    let len = n;
    while (len > 1) {
      let best = 0x7fffffff;
      let bi = -1;
      for (let i = 0; i < len - 1; i++) {
        if (rk[i]! < best) {
          best = rk[i]!;
          bi = i;
        }
      }
      if (bi < 0) break;
      sym[bi] = nid[bi]!;
      for (let i = bi + 1; i < len - 1; i++) sym[i] = sym[i + 1]!;
      for (let i = bi + 1; i < len - 2; i++) {
        rk[i] = rk[i + 1]!;
        nid[i] = nid[i + 1]!;
      }
      len--;
      if (bi > 0) this.pairAt(bi - 1);
      if (bi < len - 1) this.pairAt(bi);
    }
    return len;
  }

  /** Rank and result of the pair (sym[i], sym[i+1]) into rk[i]/nid[i]; no merge → rank max. */
  private pairAt(i: number): void {
    const s = this.slot(this.sym[i]!, this.sym[i + 1]!);
    if (s < 0) this.rk[i] = 0x7fffffff;
    else {
      this.rk[i] = this.h[s + 2]!;
      this.nid[i] = this.h[s + 3]!;
    }
  }

  /** The same merge order through a binary heap of (rank, position), for long pieces. */
  private mergeHeap(n: number): number {
    const sym = this.sym;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    const heap = new MinHeap(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      if (i + 1 < n) {
        const s = this.slot(sym[i]!, sym[i + 1]!);
        if (s >= 0) heap.push(this.h[s + 2]! * SHIFT32 + i);
      }
    }
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / SHIFT32);
      const pos = key - rank * SHIFT32;
      if (!alive[pos]) continue;
      const nx = next[pos]!;
      if (nx < 0) continue;
      const s = this.slot(sym[pos]!, sym[nx]!);
      if (s < 0 || this.h[s + 2] !== rank) continue; // an entry made stale by an earlier merge
      sym[pos] = this.h[s + 3]!;
      alive[nx] = 0;
      const nn = next[nx]!;
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      const pv = prev[pos]!;
      if (pv >= 0) {
        const s2 = this.slot(sym[pv]!, sym[pos]!);
        if (s2 >= 0) heap.push(this.h[s2 + 2]! * SHIFT32 + pv);
      }
      if (nn >= 0) {
        const s3 = this.slot(sym[pos]!, sym[nn]!);
        if (s3 >= 0) heap.push(this.h[s3 + 2]! * SHIFT32 + pos);
      }
    }
    let len = 0;
    for (let i = 0; i >= 0; i = next[i]!) sym[len++] = sym[i]!;
    return len;
  }

  /** UTF-8 of `p` into this.bytes; returns the byte count. */
  private utf8(p: string): number {
    if (this.bytes.length < p.length * 3) this.bytes = new Uint8Array(p.length * 3);
    const b = this.bytes;
    let n = 0;
    for (let i = 0; i < p.length; i++) {
      let c = p.charCodeAt(i);
      if (c < 0x80) b[n++] = c;
      else if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 63);
      } else {
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < p.length) {
          const d = p.charCodeAt(i + 1);
          if (d >= 0xdc00 && d < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
            b[n++] = 0xf0 | (c >> 18);
            b[n++] = 0x80 | ((c >> 12) & 63);
            b[n++] = 0x80 | ((c >> 6) & 63);
            b[n++] = 0x80 | (c & 63);
            continue;
          }
        }
        b[n++] = 0xe0 | (c >> 12);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
      }
    }
    return n;
  }

  /** Index into this.h of the slot of merge (a, b), or -1; its rank is at +2, its new id at +3. */
  private slot(a: number, b: number): number {
    const h = this.h;
    const mask = (4 << this.hBits) - 4;
    for (
      let s = (Math.imul(a ^ Math.imul(b, 0x85ebca77), 0x9e3779b1) >>> (32 - this.hBits)) << 2;
      ;
      s = (s + 4) & mask
    ) {
      const k = h[s]!;
      if (k === -1) return -1;
      if (k === a && h[s + 1] === b) return s;
    }
  }
}

/** The tables of a covered `tokenizer.json`: its merges hashed into `h`, on shared memory so threads can share them. */
function buildTables(
  json: TokenizerJson,
  split: RegExp,
  prefixSpace: 'none' | 'segment' | 'piece',
  vocab: Map<string, number>,
): FastBpeTables {
  const model = json.model!;
  const chars = byteLevelChars();
  const byteIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) byteIds[b] = vocab.get(chars[b]!)!;
  const merges = model.merges ?? [];
  const hBits = Math.max(10, Math.ceil(Math.log2(merges.length * 2 + 1)));
  const h = new Int32Array(new SharedArrayBuffer(4 * (4 << hBits))).fill(-1);
  for (let r = 0; r < merges.length; r++) {
    const m = merges[r]!;
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    const ia = vocab.get(a);
    const ib = vocab.get(b);
    const nw = vocab.get(a + b);
    if (ia === undefined || ib === undefined || nw === undefined)
      throw new Error(`merge ${r} (${a} ${b}) names a token that is not in the vocabulary`);
    insertMerge(h, hBits, ia, ib, r, nw); // a repeated pair keeps its last rank, as tokenizers' HashMap does
  }
  const added = json.added_tokens ?? [];
  const ids = new Set(vocab.keys());
  for (const a of added) ids.add(a.content);
  let wholeWord: [string, number][] | null = null;
  if (model.ignore_merges) {
    // A piece that is a whole vocabulary entry maps to it directly; keyed by the entry's text.
    wholeWord = [];
    const back = new Map(chars.map((c, b) => [c, b]));
    const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    for (const [tok, id] of vocab) {
      if ([...tok].some((c) => !back.has(c))) continue;
      const bytes = Uint8Array.from(tok, (c) => back.get(c)!);
      try {
        wholeWord.push([dec.decode(bytes), id]);
      } catch {
        // not valid UTF-8 on its own: no piece of text can equal it
      }
    }
  }
  return {
    vocabSize: ids.size,
    byteIds,
    hBits,
    h,
    split: { source: split.source, flags: split.flags },
    prefixSpace,
    nfc: json.normalizer?.type === 'NFC',
    added: added.map((a) => ({ ...a })),
    wholeWord,
  };
}

function insertMerge(h: Int32Array, hBits: number, a: number, b: number, rank: number, newId: number): void {
  const mask = (4 << hBits) - 4;
  let s = (Math.imul(a ^ Math.imul(b, 0x85ebca77), 0x9e3779b1) >>> (32 - hBits)) << 2;
  while (h[s] !== -1 && !(h[s] === a && h[s + 1] === b)) s = (s + 4) & mask;
  h[s] = a;
  h[s + 1] = b;
  h[s + 2] = rank;
  h[s + 3] = newId;
}

/**
 * NFC as `tokenizers` computes it. Its tables are older than Node's: a code point newer than them
 * is, to it, an unassigned starter that neither decomposes nor composes, so the text between such
 * code points is normalized on its own and they stay as they are.
 */
function nfc(s: string): string {
  if (!UNSAFE.test(s)) return s.normalize('NFC');
  return s.replace(SAFE_RUNS, (run) => run.normalize('NFC'));
}

/** A min-heap of doubles (rank · 2^32 + position). */
class MinHeap {
  private a: Float64Array;
  size = 0;
  constructor(cap: number) {
    this.a = new Float64Array(Math.max(16, cap));
  }
  push(x: number): void {
    if (this.size === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    const a = this.a;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const x = a[--this.size]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && a[c + 1]! < a[c]!) c++;
      if (a[c]! >= x) break;
      a[i] = a[c]!;
      i = c;
    }
    if (this.size > 0) a[i] = x;
    return top;
  }
}

/** Why `json` is outside what the fast encoder reproduces exactly, or how to split when it is not. */
function unsupported(json: TokenizerJson): string | { split: RegExp; prefixSpace: 'none' | 'segment' | 'piece' } {
  const m = json.model;
  if (m?.type !== 'BPE') return `model ${m?.type ?? '(none)'} is not BPE`;
  if (!m.vocab || Array.isArray(m.vocab)) return 'no BPE vocabulary';
  if (m.dropout) return 'BPE dropout';
  if (m.byte_fallback) return 'byte_fallback (sentencepiece-style BPE)';
  if (m.continuing_subword_prefix || m.end_of_word_suffix) return 'subword prefix/suffix';
  const chars = byteLevelChars();
  if (chars.some((c) => m.vocab![c] === undefined)) return 'not a byte-level vocabulary (a byte has no token)';
  const n = json.normalizer;
  if (n && n.type !== 'NFC') return `normalizer ${n.type}`;
  const added = json.added_tokens ?? [];
  for (const t of added) {
    if (t.single_word) return `added token ${JSON.stringify(t.content)} has single_word`;
    if (t.normalized && n) return `added token ${JSON.stringify(t.content)} is matched after normalization`;
    if (t.content === '') return 'an empty added token';
  }
  // tokenizers matches un-normalized added tokens first and normalized ones in what is left: one pass
  // over all of them is the same only when they are all of one kind.
  if (new Set(added.map((t) => Boolean(t.normalized))).size > 1) return 'added tokens both with and without normalized';
  const pt = json.pre_tokenizer;
  const byteLevel = (p: PreTokenizerJson | undefined): boolean => p?.type === 'ByteLevel';
  let pattern: string;
  let prefixSpace: 'none' | 'segment' | 'piece';
  if (pt && byteLevel(pt) && pt.use_regex !== false) {
    pattern = GPT2_PATTERN;
    prefixSpace = pt.add_prefix_space ? 'segment' : 'none';
  } else if (pt?.type === 'Sequence' && pt.pretokenizers?.length === 2) {
    const [split, bl] = pt.pretokenizers as [PreTokenizerJson, PreTokenizerJson];
    if (split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert || split.pattern?.Regex === undefined)
      return 'pre-tokenizer: first step is not a Split regex with behavior Isolated';
    if (!byteLevel(bl) || bl.use_regex !== false)
      return 'pre-tokenizer: second step is not ByteLevel without its own regex';
    pattern = split.pattern.Regex;
    prefixSpace = bl.add_prefix_space ? 'piece' : 'none';
  } else return `pre-tokenizer ${pt ? JSON.stringify(pt).slice(0, 80) : '(none)'}`;
  const re = onigToJs(pattern);
  if (typeof re === 'string') return `split regex: ${re}`;
  return { split: re, prefixSpace };
}
