import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, walkProtobuf, type ProtoFieldHandler } from '@weft/core';
import { readConfig, tokenContent, type Tokenizer, type TokenizerSpec } from './tokenizer-config.ts';

/**
 * The `sentencepiece` backend: a folder with a sentencepiece `tokenizer.model` (InternLM, Llama-2)
 * and no `tokenizer.json`, encoded by sentencepiece itself compiled to WebAssembly
 * (`@sctg/sentencepiece-js`), so ids are sentencepiece's own: same normaliser, same
 * `add_dummy_prefix`, same byte fallback.
 *
 * The model's protobuf is also read here (the wasm build exposes no vocabulary accessors): piece
 * texts and types give `vocabSize`, `tokenToId`, and sentencepiece's `bos_id()`/`eos_id()` (the
 * trainer's `bos_piece`/`eos_piece`, when that piece is a CONTROL piece). A truncated or corrupt
 * file is a `DataError` naming the file and the byte where parsing failed.
 */

/** sentencepiece's `ModelProto.SentencePiece.Type`. */
export const PIECE_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** What weft needs from a sentencepiece `ModelProto`. */
export interface SentencepieceModel {
  pieces: { piece: string; type: number }[];
  /** TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char. */
  modelType: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  /** NormalizerSpec.add_dummy_prefix (default true): a "▁" is prepended to every encoded text. */
  addDummyPrefix: boolean;
}

/**
 * Parse the parts of a sentencepiece `.model` (protobuf `ModelProto`) that weft uses.
 *
 * @example
 * const m = parseSentencepieceModel(readFileSync('tokenizer.model'), 'tokenizer.model');
 * m.pieces.length; // vocabulary size
 */
export function parseSentencepieceModel(bytes: Uint8Array, file: string): SentencepieceModel {
  const fail = (detail: string, offset: number): never => {
    throw new DataError(
      `not a valid sentencepiece model (truncated or corrupt file?): ${detail}`,
      { file, offset },
      { reason: 'corrupt-model' },
    );
  };
  const dec = new TextDecoder('utf-8', { fatal: true });
  const str = (b: Uint8Array, at: number): string => {
    try {
      return dec.decode(b);
    } catch {
      return fail('a piece is not valid UTF-8', at);
    }
  };
  const model: SentencepieceModel = {
    pieces: [],
    modelType: 1,
    unkPiece: '<unk>',
    bosPiece: '<s>',
    eosPiece: '</s>',
    padPiece: '<pad>',
    addDummyPrefix: true,
  };
  const walk = (start: number, end: number, field: ProtoFieldHandler): void =>
    walkProtobuf(bytes, start, end, field, fail);
  if (bytes.length === 0) fail('the file is empty', 0);
  walk(0, bytes.length, (num, wire, _v, body, at) => {
    if (wire !== 2 || body === undefined) return;
    const base = at;
    if (num === 1) {
      let piece: string | undefined;
      let type: number = PIECE_TYPE.NORMAL;
      walk(base, base + body.length, (n, w, v, b, a) => {
        if (n === 1 && w === 2 && b) piece = str(b, a);
        else if (n === 3 && w === 0) type = v;
      });
      if (piece === undefined) fail(`piece ${model.pieces.length} has no text`, at);
      model.pieces.push({ piece: piece!, type });
    } else if (num === 2) {
      walk(base, base + body.length, (n, w, v, b, a) => {
        if (n === 3 && w === 0) model.modelType = v;
        else if (w === 2 && b) {
          if (n === 45) model.unkPiece = str(b, a);
          else if (n === 46) model.bosPiece = str(b, a);
          else if (n === 47) model.eosPiece = str(b, a);
          else if (n === 48) model.padPiece = str(b, a);
        }
      });
    } else if (num === 3) {
      walk(base, base + body.length, (n, w, v) => {
        if (n === 3 && w === 0) model.addDummyPrefix = v !== 0;
      });
    }
  });
  if (model.pieces.length === 0) fail('no vocabulary pieces', bytes.length);
  return model;
}

/** One added (no-split) token of tokenizer_config.json, as HF slow tokenizers split text on them. */
interface AddedToken {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
}

type WasmProcessor = {
  processor: {
    status(): { ToString(): string; delete(): void };
    EncodeAsIds(v: unknown): { size(): number; get(i: number): number; delete(): void };
  };
  sentencepiece: { StringView: new (s: string) => { getView(): { delete(): void }; delete(): void } };
  decodeIds(ids: number[]): string;
};

async function loadWasm(bytes: Uint8Array, file: string): Promise<WasmProcessor> {
  const { SentencePieceProcessor } = await import('@sctg/sentencepiece-js');
  const p = new SentencePieceProcessor() as unknown as WasmProcessor & { _loadModel(b: Uint8Array): Promise<void> };
  // The package's load() discards sentencepiece's Load status; check it through status().
  await p._loadModel(bytes);
  const st = p.processor.status();
  const msg = st.ToString();
  st.delete();
  if (msg !== 'OK')
    throw new DataError(`sentencepiece could not load the model: ${msg}`, { file }, { reason: 'corrupt-model' });
  return p;
}

/**
 * Build a `Tokenizer` over a folder's `tokenizer.model` (what `loadTokenizer` does for
 * sentencepiece-only folders, and workers through `loadTokenizerFromSpec`).
 *
 * `encode(text)` is Python's `sp.encode(text)`: no BOS/EOS, and the model's dummy prefix ("▁") is
 * added to every call — as HF's Llama/InternLM slow tokenizers (legacy mode) do for every piece
 * xtuner encodes with `add_special_tokens=False`. When tokenizer_config.json names added tokens
 * (`added_tokens_decoder`, `bos_token`, `eos_token`, `unk_token`, `pad_token`,
 * `additional_special_tokens`), text is first split on them (as HF does), each one becomes its id and
 * each stretch of text between them is encoded on its own.
 *
 * @example
 * const tok = await sentencepieceTokenizer({ dir: 'models/internlm2-chat-7b', backend: 'sentencepiece' });
 * await tok.encode('hello'); // Int32Array of sentencepiece ids
 */
export async function sentencepieceTokenizer(spec: TokenizerSpec): Promise<Tokenizer> {
  const file = join(spec.dir, 'tokenizer.model');
  const bytes = readFileSync(file);
  const model = parseSentencepieceModel(bytes, file);
  const sp = await loadWasm(bytes, file);
  const cfg = readConfig(spec.dir);

  const pieceId = new Map<string, number>();
  model.pieces.forEach((p, i) => {
    if (!pieceId.has(p.piece)) pieceId.set(p.piece, i);
  });
  const spId = (piece: string, type: number): number => {
    const id = pieceId.get(piece);
    return id !== undefined && model.pieces[id]!.type === type ? id : -1;
  };

  // Added tokens: HF keeps them out of sentencepiece (no-split); ids past the model extend the vocabulary.
  const added = new Map<string, AddedToken>();
  const decoder = cfg.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    for (const [k, v] of Object.entries(
      decoder as Record<string, { content?: string; lstrip?: boolean; rstrip?: boolean }>,
    )) {
      if (typeof v?.content === 'string' && v.content !== '') {
        added.set(v.content, {
          content: v.content,
          id: Number(k),
          lstrip: v.lstrip === true,
          rstrip: v.rstrip === true,
        });
      }
    }
  }
  const specials = [
    cfg.bos_token,
    cfg.eos_token,
    cfg.unk_token,
    cfg.pad_token,
    ...(Array.isArray(cfg.additional_special_tokens) ? cfg.additional_special_tokens : []),
  ];
  for (const s of specials) {
    const content = tokenContent(s as Parameters<typeof tokenContent>[0]);
    if (content === undefined || content === '' || added.has(content)) continue;
    const id = pieceId.get(content);
    if (id !== undefined) added.set(content, { content, id, lstrip: false, rstrip: false });
  }
  const addedById = new Map<number, string>();
  for (const a of added.values()) addedById.set(a.id, a.content);
  const addedList = [...added.values()].sort((a, b) => b.content.length - a.content.length);
  const firstChars = new Set(addedList.map((a) => a.content[0]!));

  const spEncode = (text: string): number[] => {
    if (text === '') return [];
    const sv = new sp.sentencepiece.StringView(text);
    const view = sv.getView();
    const v = sp.processor.EncodeAsIds(view);
    const n = v.size();
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = v.get(i);
    v.delete();
    view.delete();
    sv.delete();
    return out;
  };

  const encodeOne = (text: string): Int32Array => {
    if (addedList.length === 0) return Int32Array.from(spEncode(text));
    // Split on added tokens, longest match first at each position (HF's trie), then strip around them.
    const parts: (string | AddedToken)[] = [];
    let last = 0;
    for (let i = 0; i < text.length;) {
      const hit = firstChars.has(text[i]!) ? addedList.find((a) => text.startsWith(a.content, i)) : undefined;
      if (hit) {
        parts.push(text.slice(last, i), hit);
        i += hit.content.length;
        last = i;
      } else i++;
    }
    parts.push(text.slice(last));
    const ids: number[] = [];
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k]!;
      if (typeof part !== 'string') {
        ids.push(part.id);
        continue;
      }
      let s = part;
      const prev = parts[k - 1];
      const next = parts[k + 1];
      if (prev !== undefined && typeof prev !== 'string' && prev.rstrip) s = s.replace(/^\s+/u, '');
      if (next !== undefined && typeof next !== 'string' && next.lstrip) s = s.replace(/\s+$/u, '');
      for (const id of spEncode(s)) ids.push(id);
    }
    return Int32Array.from(ids);
  };

  const decode = (ids: ArrayLike<number>): string => {
    // Control pieces and added tokens print as their text (HF's skip_special_tokens=False); the
    // runs between them are decoded by sentencepiece.
    let out = '';
    let run: number[] = [];
    const flush = (): void => {
      if (run.length) out += sp.decodeIds(run);
      run = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const a = addedById.get(id);
      const p = model.pieces[id];
      if (a !== undefined || p === undefined || p.type === PIECE_TYPE.CONTROL) {
        flush();
        out += a ?? p?.piece ?? '';
      } else run.push(id);
    }
    flush();
    return out;
  };

  const bosPieceId = spId(model.bosPiece, PIECE_TYPE.CONTROL);
  const eosPieceId = spId(model.eosPiece, PIECE_TYPE.CONTROL);
  const tokenToId = (token: string): number | undefined => added.get(token)?.id ?? pieceId.get(token);
  // bos_token/eos_token of the config choose the tokens (null: none); without a config, the model's
  // own bos/eos pieces. add_bos_token: false means the model is used without BOS.
  const pick = (cfgTok: unknown, fallback: number): { ids: number[]; token: string | undefined } => {
    if (cfgTok === null) return { ids: [], token: undefined };
    const content = tokenContent(cfgTok as Parameters<typeof tokenContent>[0]);
    if (content !== undefined) {
      const id = tokenToId(content);
      return { ids: id === undefined ? [] : [id], token: content };
    }
    return fallback < 0 ? { ids: [], token: undefined } : { ids: [fallback], token: model.pieces[fallback]!.piece };
  };
  const bos = pick(cfg.bos_token, bosPieceId);
  const eos = pick(cfg.eos_token, eosPieceId);
  const bosIds = cfg.add_bos_token === false ? [] : bos.ids;

  let vocabSize = model.pieces.length;
  for (const a of added.values()) vocabSize = Math.max(vocabSize, a.id + 1);
  const chatTemplate =
    typeof cfg.chat_template === 'string'
      ? cfg.chat_template
      : cfg.chat_template?.find((t) => t.name === 'default')?.template;

  return {
    backend: 'sentencepiece',
    spec,
    bosIds,
    eosIds: eos.ids,
    bosToken: bos.token,
    eosToken: eos.token,
    vocabSize,
    className: cfg.tokenizer_class,
    chatTemplate,
    encode: async (text) => encodeOne(text),
    encodeBatch: async (texts) => texts.map(encodeOne),
    decode: async (ids) => decode(ids),
    tokenToId,
  };
}
