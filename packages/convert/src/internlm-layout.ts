import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@weft/core';
import { PyGlobal, PyObject } from './pickle.ts';
import { readTorchFile, TorchTensor } from './pth.ts';
import { DTYPE_SIZE, numel, streamRange, type DType, type TensorRecord } from './tensor.ts';

// The layout of InternLM / InternEvo training checkpoints (docs/INTERNLM-CHECKPOINT.md) and the
// plan that turns their tp × pp shards into Hugging Face tensors, one output tensor at a time.

export type InternlmVersion = 'internlm' | 'internlm2';

/** One `model_tp{T}_pp{P}.pt`. */
interface Shard {
  tp: number;
  pp: number;
  file: string;
  tensors: Map<string, TorchTensor>;
}

/** A tensor after the pipeline merge: global layer numbering, `model.` dropped, where it came from. */
interface Placed {
  t: TorchTensor;
  file: string;
  key: string;
}

/** The fields of `model_config.pt` this converter uses. */
export interface InternlmModelConfig {
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  numKvHeads: number;
  vocabSize: number;
  embedSplitHidden: boolean;
  layerNormEpsilon: number | undefined;
  ropeBase: number;
  noBias: boolean;
  adaptHf: boolean;
  normHead: boolean;
  /** Everything model_config.pt held that is plain data, for messages. */
  raw: Map<string, unknown>;
}

/** The checkpoint folder as found: shards by [tp][pp], the config, the version. */
export interface InternlmCheckpoint {
  dir: string;
  tp: number;
  pp: number;
  version: InternlmVersion;
  config: InternlmModelConfig;
  configFile: string;
  /** Merged (pp) tensors per tp rank. */
  ranks: Map<string, Placed>[];
}

const SHARD_RE = /^model_tp(\d+)_pp(\d+)\.pt$/;

/** Find and check the `model_tp{T}_pp{P}.pt` files of `dir`: every pair of the tp × pp grid, nothing else of the kind. */
export function findInternlmShards(dir: string): { tp: number; pp: number; files: string[][] } {
  const names = readdirSync(dir).filter((f) => f.startsWith('model_') && !f.endsWith('md5') && f !== 'model_config.pt');
  const grid = new Map<string, string>();
  let tp = 0,
    pp = 0;
  for (const f of names.sort()) {
    const m = SHARD_RE.exec(f);
    if (!m) {
      const what = /^model_wp\d+/.test(f)
        ? 'weight-parallel (ISP) shards'
        : /^model_tp\d+_pp\d+_dp\d+/.test(f)
          ? 'FSDP shards (model_tp*_pp*_dp*.pt)'
          : /^model_moe/.test(f)
            ? 'MoE expert shards'
            : 'a file of an unknown kind';
      throw new DataError(
        `${what} are not supported: weft reads model_tp<T>_pp<P>.pt files (InternLM's tensor/pipeline-parallel checkpoints)`,
        { file: join(dir, f) },
        { reason: 'unsupported-layout' },
      );
    }
    const t = Number(m[1]),
      p = Number(m[2]);
    grid.set(`${t},${p}`, f);
    tp = Math.max(tp, t + 1);
    pp = Math.max(pp, p + 1);
  }
  if (grid.size === 0) {
    throw new DataError(
      'no model_tp<T>_pp<P>.pt files: not an InternLM training checkpoint folder (pass the folder of one step, e.g. ckpt/5000)',
      { file: dir },
      { reason: 'not-internlm' },
    );
  }
  const files: string[][] = [];
  const missing: string[] = [];
  for (let t = 0; t < tp; t++) {
    files.push([]);
    for (let p = 0; p < pp; p++) {
      const f = grid.get(`${t},${p}`);
      if (!f) missing.push(`model_tp${t}_pp${p}.pt`);
      files[t]!.push(join(dir, f ?? ''));
    }
  }
  if (missing.length) {
    throw new DataError(
      `missing ${missing.join(', ')}: the shards found span tp 0..${tp - 1} × pp 0..${pp - 1}, and every pair must be there; copy the missing file(s) from the training run`,
      { file: join(dir, missing[0]!) },
      { reason: 'missing-shard' },
    );
  }
  return { tp, pp, files };
}

const describe = (v: unknown): string =>
  v instanceof PyObject
    ? `<${v.qualname} object, not executed>`
    : v instanceof PyGlobal
      ? v.qualname
      : v instanceof Map
        ? `a dict of ${v.size}`
        : Array.isArray(v)
          ? `a list of ${v.length}`
          : typeof v;

/** Read `model_config.pt` (a plain dict) through the safe reader. */
export function readInternlmConfig(file: string, version: InternlmVersion): InternlmModelConfig {
  if (!existsSync(file))
    throw new DataError(
      'model_config.pt is missing: InternLM saves it beside the shards of every checkpoint; copy it from the training run',
      { file },
      { reason: 'missing-config' },
    );
  const value = readTorchFile(file).value;
  const raw = value instanceof Map ? value : value instanceof PyObject && value.dict.size ? value.dict : undefined;
  if (!raw)
    throw new DataError(
      `model_config.pt should hold a dict of the model settings; it holds ${describe(value)}`,
      { file },
      { reason: 'bad-config' },
    );
  const get = (k: string) => raw.get(k);
  const int = (k: string, fallback?: number): number => {
    const v = get(k);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new DataError(
        `model_config.pt: ${k} should be a positive integer, found ${v === undefined ? 'nothing' : typeof v === 'number' ? v : describe(v)}`,
        { file },
        { reason: 'bad-config' },
      );
    }
    return v;
  };
  const num = (k: string): number | undefined => {
    const v = get(k);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new DataError(
        `model_config.pt: ${k} should be a number, found ${describe(v)}`,
        { file },
        { reason: 'bad-config' },
      );
    return v;
  };
  const bool = (k: string, fallback: boolean): boolean => {
    const v = get(k);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean' && v !== 0 && v !== 1)
      throw new DataError(
        `model_config.pt: ${k} should be true or false, found ${describe(v)}`,
        { file },
        { reason: 'bad-config' },
      );
    return Boolean(v);
  };
  const numHeads = int('num_attention_heads');
  const vocab = get('vocab_size');
  return {
    numLayers: int('num_layers'),
    hiddenSize: int('hidden_size'),
    numHeads,
    numKvHeads: version === 'internlm2' ? int('num_kv_attention_heads', numHeads) : numHeads,
    vocabSize: typeof vocab === 'number' ? vocab : -1,
    embedSplitHidden: bool('embed_split_hidden', false),
    layerNormEpsilon: num('layer_norm_epsilon'),
    ropeBase: num('rope_base') ?? 10000,
    noBias: bool('no_bias', version === 'internlm2'),
    // InternEvo's convert2hf_internlm2.py starts from a base config with adapt_hf=False
    adaptHf: bool('adapt_hf', false),
    normHead: bool('norm_head', false),
    raw,
  };
}

/** Which version the keys of the first shard say, or undefined. */
function versionOfKeys(keys: Iterable<string>): InternlmVersion | undefined {
  for (const k of keys) {
    if (/(^|\.)blocks\.\d+\.mixer\.Wqkv\.weight$/.test(k)) return 'internlm';
    if (/(^|\.)layers\.\d+\.attention\.wqkv\.weight$/.test(k)) return 'internlm2';
  }
  return undefined;
}

function loadShard(file: string, tp: number, pp: number): Shard {
  const value = readTorchFile(file).value;
  const top = value instanceof Map ? value : value instanceof PyObject && value.dict.size ? value.dict : undefined;
  if (!top)
    throw new DataError(
      `a model shard should hold the model's state dict (a dict of tensors); it holds ${describe(value)}`,
      { file },
      { reason: 'no-state-dict' },
    );
  const tensors = new Map<string, TorchTensor>();
  for (const [k, v] of top) {
    if (typeof k !== 'string')
      throw new DataError(`state dict key ${describe(k)} is not a string`, { file }, { reason: 'bad-key' });
    if (!(v instanceof TorchTensor))
      throw new DataError(
        `state dict entry ${k} is ${describe(v)}, not a tensor: not a model shard InternLM wrote`,
        { file },
        { reason: 'not-tensor' },
      );
    tensors.set(k, v);
  }
  return { tp, pp, file, tensors };
}

/**
 * Merge the pipeline stages of one tp rank as InternLM's convert scripts do: the first `.<n>.` of a
 * key is a stage-local layer index; it is shifted by the layers of the stages before (each stage adds
 * its largest index + 1); `model.` is then dropped and `*.inv_freq` buffers are left out.
 */
function mergePipeline(stages: Shard[]): Map<string, Placed> {
  const out = new Map<string, Placed>();
  let shift = 0;
  for (const s of stages) {
    let top = 0;
    for (const [key, t] of s.tensors) {
      if (key.endsWith('.inv_freq')) continue;
      const m = /\.(\d+)\./.exec(key);
      let name = key;
      if (m) {
        const local = Number(m[1]);
        top = Math.max(top, local);
        name = `${key.slice(0, m.index)}.${local + shift}.${key.slice(m.index + m[0].length)}`;
      }
      if (name.startsWith('model.')) name = name.slice(6);
      const prev = out.get(name);
      if (prev)
        throw new DataError(
          `${key} lands on ${name}, which ${prev.file} (key ${prev.key}) already holds: the stages overlap`,
          { file: s.file },
          { reason: 'duplicate-key' },
        );
      out.set(name, { t, file: s.file, key });
    }
    shift += top + 1;
  }
  return out;
}

/** Open an InternLM checkpoint folder: find the shards, read the config, merge the pipeline stages. */
export function openInternlmCheckpoint(dir: string, modelType?: InternlmVersion): InternlmCheckpoint {
  const { tp, pp, files } = findInternlmShards(dir);
  const shards = files.map((row, t) => row.map((f, p) => loadShard(f, t, p)));
  const found = versionOfKeys(shards[0]!.flatMap((row) => [...row.tensors.keys()]));
  if (!found) {
    throw new DataError(
      'found neither blocks.<i>.mixer.Wqkv.weight (InternLM) nor layers.<i>.attention.wqkv.weight (InternLM2) in the shards of tp 0',
      { file: files[0]![0]! },
      { reason: 'unknown-model' },
    );
  }
  if (modelType && modelType !== found) {
    throw new DataError(
      `--model-type ${modelType}, but the keys are ${found === 'internlm' ? "InternLM's (blocks.<i>.mixer.Wqkv)" : "InternLM2's (layers.<i>.attention.wqkv)"}: pass --model-type ${found} or leave it out`,
      { file: files[0]![0]! },
      { reason: 'model-type' },
    );
  }
  const configFile = join(dir, 'model_config.pt');
  const config = readInternlmConfig(configFile, found);
  return { dir, tp, pp, version: found, config, configFile, ranks: shards.map(mergePipeline) };
}

/** One output tensor: its HF name, dtype, shape, and how its bytes are built from the shards. */
export interface PlannedTensor {
  name: string;
  dtype: DType;
  shape: number[];
  read(): Uint8Array;
  /** The same bytes in chunks (when every input is contiguous), two buffers alternating. */
  stream?(chunk: number): AsyncIterable<Uint8Array>;
  /** A single whole input tensor under a new name (no copy through memory needed). */
  direct?: TorchTensor;
}

/** What the plan decided beside the tensors (for config.json). */
export interface InternlmPlan {
  tensors: PlannedTensor[];
  intermediateSize: number;
  vocabSize: number;
  dtype: DType;
}

/** Read `dst.length` bytes at `offset` of `file` straight into `dst`. */
function readInto(file: string, offset: number, dst: Uint8Array): void {
  const fd = openSync(file, 'r');
  try {
    for (let done = 0; done < dst.length;) {
      const n = readSync(fd, dst, done, dst.length - done, offset + done);
      if (n === 0)
        throw new DataError(
          `file ends before ${dst.length} bytes could be read (was the shard copied completely?)`,
          { file, offset: offset + done },
          { reason: 'truncated' },
        );
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Rows `[start, start + count)` along dim 0 of a tensor into `dst`, reading only those bytes when the tensor is contiguous. */
function rowsInto(t: TorchTensor, start: number, count: number, dst: Uint8Array): void {
  const size = DTYPE_SIZE[t.dtype];
  const row = numel(t.shape.slice(1)) * size;
  if (t.contiguous)
    readInto(
      t.storage.archive.file,
      t.storage.archive.storedOffset(t.storage.entry) + t.storageOffset * size + start * row,
      dst,
    );
  else dst.set(t.read().subarray(start * row, (start + count) * row));
}

/**
 * Concatenate along dim 0 the row ranges `[start, start + count)` of tensors (whole tensors by
 * default), read straight into the output: memory is the output tensor.
 */
function cat0(pieces: { t: TorchTensor; start?: number; count?: number }[]): Uint8Array {
  const size = DTYPE_SIZE[pieces[0]!.t.dtype];
  const lens = pieces.map((p) => (p.count ?? p.t.shape[0]!) * numel(p.t.shape.slice(1)) * size);
  const out = new Uint8Array(lens.reduce((a, b) => a + b, 0));
  let o = 0;
  pieces.forEach((p, k) => {
    rowsInto(p.t, p.start ?? 0, p.count ?? p.t.shape[0]!, out.subarray(o, o + lens[k]!));
    o += lens[k]!;
  });
  return out;
}

/** Concatenate 2-D tensors along dim 1 (row-parallel weights): one input part in memory at a time beside the output. */
function cat1(parts: TorchTensor[]): Uint8Array {
  const size = DTYPE_SIZE[parts[0]!.dtype];
  const rows = parts[0]!.shape[0]!;
  const widths = parts.map((p) => p.shape[1]! * size);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(rows * total);
  let col = 0;
  parts.forEach((p, k) => {
    const w = widths[k]!;
    const bytes = p.read();
    for (let r = 0; r < rows; r++) out.set(bytes.subarray(r * w, (r + 1) * w), r * total + col);
    col += w;
  });
  return out;
}

/** The streaming form of {@link cat0} (contiguous tensors only): each piece's bytes in chunks, straight from the file. */
async function* streamCat0(
  pieces: { t: TorchTensor; start?: number; count?: number }[],
  chunk: number,
): AsyncGenerator<Uint8Array> {
  for (const p of pieces) {
    const size = DTYPE_SIZE[p.t.dtype];
    const row = numel(p.t.shape.slice(1)) * size;
    const base = p.t.storage.archive.storedOffset(p.t.storage.entry) + p.t.storageOffset * size;
    yield* streamRange(p.t.storage.archive.file, base + (p.start ?? 0) * row, (p.count ?? p.t.shape[0]!) * row, chunk);
  }
}

/**
 * The streaming form of {@link cat1} (contiguous tensors only): blocks of rows, each part's rows of
 * the block read by offset and interleaved; two output buffers alternate (the TensorRecord contract).
 */
async function* streamCat1(parts: TorchTensor[], chunk: number): AsyncGenerator<Uint8Array> {
  const size = DTYPE_SIZE[parts[0]!.dtype];
  const rows = parts[0]!.shape[0]!;
  const widths = parts.map((p) => p.shape[1]! * size);
  const total = widths.reduce((a, b) => a + b, 0);
  const block = Math.max(1, Math.min(rows, Math.floor(chunk / total)));
  const bufs = [new Uint8Array(block * total), rows > block ? new Uint8Array(block * total) : undefined];
  const tmp = widths.map((w) => new Uint8Array(block * w));
  for (let r0 = 0, k = 0; r0 < rows; r0 += block, k ^= 1) {
    const n = Math.min(block, rows - r0);
    const out = bufs[k]!.subarray(0, n * total);
    let col = 0;
    parts.forEach((p, i) => {
      const w = widths[i]!;
      const part = tmp[i]!.subarray(0, n * w);
      rowsInto(p, r0, n, part);
      for (let r = 0; r < n; r++) out.set(part.subarray(r * w, (r + 1) * w), r * total + col);
      col += w;
    });
    yield out;
  }
}

/** Interleaved → half-split rotary order for the q and k rows of every kv group (v rows stay), in place, as InternEvo's `permute`. */
function permuteWqkv(bytes: Uint8Array, groups: number, qPerKv: number, headDim: number, rowBytes: number): Uint8Array {
  const perGroup = (qPerKv + 2) * headDim;
  const head = new Uint8Array(headDim * rowBytes);
  for (let g = 0; g < groups; g++) {
    for (let n = 0; n <= qPerKv; n++) {
      // q heads and the k head; v is the last
      const at = (g * perGroup + n * headDim) * rowBytes;
      head.set(bytes.subarray(at, at + headDim * rowBytes));
      for (let j = 0; j < headDim; j++) {
        const from = j < headDim / 2 ? 2 * j : 2 * (j - headDim / 2) + 1;
        bytes.set(head.subarray(from * rowBytes, (from + 1) * rowBytes), at + j * rowBytes);
      }
    }
  }
  return bytes;
}

/** Round an f64 to the nearest f32 / bf16 / f16 and write it (the dtype's bytes). */
function writeFloat(view: DataView, i: number, dtype: DType, x: number): void {
  if (dtype === 'F32') view.setFloat32(i * 4, x, true);
  else if (dtype === 'F64') view.setFloat64(i * 8, x, true);
  else throw new Error('unreachable');
}

/**
 * `F.normalize(w, dim=-1)` row by row: w / max(‖w‖₂, 1e-12). F32/F64 only. The norm is summed in
 * f64 and rounded once; torch sums f32 in SIMD lanes whose width depends on the CPU, so an element
 * may differ from torch's by an ulp or two.
 */
function normalizeRows(bytes: Uint8Array, rows: number, cols: number, dtype: DType, file: string): Uint8Array {
  if (dtype !== 'F32' && dtype !== 'F64')
    throw new DataError(
      `norm_head: the head is ${dtype}; weft normalises F32/F64 heads only (convert a float32 checkpoint, then cast with --dtype)`,
      { file },
      { reason: 'unsupported-dtype' },
    );
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dst = src; // in place: each row is read whole (the norm) before it is written
  const get = (i: number) => (dtype === 'F32' ? src.getFloat32(i * 4, true) : src.getFloat64(i * 8, true));
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += get(r * cols + c) ** 2;
    let norm = Math.sqrt(ss);
    if (dtype === 'F32') norm = Math.fround(norm);
    const d = Math.max(norm, 1e-12);
    for (let c = 0; c < cols; c++) writeFloat(dst, r * cols + c, dtype, get(r * cols + c) / d);
  }
  return bytes;
}

/**
 * The HF tensors of a checkpoint, each built on demand from its tp shards (docs/INTERNLM-CHECKPOINT.md):
 * checks every input shape against model_config.pt and refuses keys it does not know.
 */
export function planInternlmToHf(ck: InternlmCheckpoint): InternlmPlan {
  const { tp, config: c, version, ranks } = ck;
  const H = c.hiddenSize;
  const heads = c.numHeads;
  if (H % heads)
    throw new DataError(
      `hidden_size ${H} is not a multiple of num_attention_heads ${heads}`,
      { file: ck.configFile },
      { reason: 'bad-config' },
    );
  const d = H / heads;
  const used = ranks.map(() => new Set<string>());
  const where = (p: Placed, r: number, key: string) =>
    `${p.key}${p.key === key ? '' : ` (${key} after the pipeline merge)`} of ${p.file} (tp ${r})`;
  const part = (r: number, key: string): Placed => {
    const p = ranks[r]!.get(key);
    if (!p) {
      const files = [...new Set([...ranks[r]!.values()].map((x) => x.file))].sort();
      throw new DataError(
        `missing ${key} (after the pipeline merge; layers are numbered across the pp stages) in the shards of tp ${r}: ${files.join(', ')}`,
        { file: files[0] ?? ck.dir },
        { reason: 'missing-key' },
      );
    }
    used[r]!.add(key);
    return p;
  };
  const shapeErr = (p: Placed, r: number, key: string, want: number[], why: string): never => {
    throw new DataError(
      `${where(p, r, key)} has shape [${p.t.shape.join(', ')}], expected [${want.join(', ')}] (${why}); the shard does not match model_config.pt or the other shards`,
      { file: p.file },
      { reason: 'shape' },
    );
  };
  /** All tp parts of `key`, each checked against `want` (per-rank shape). */
  const parts = (key: string, want: number[], why: string): Placed[] => {
    const ps = ranks.map((_, r) => part(r, key));
    ps.forEach((p, r) => {
      if (p.t.shape.length !== want.length || p.t.shape.some((x, i) => x !== want[i])) shapeErr(p, r, key, want, why);
      if (p.t.dtype !== ps[0]!.t.dtype)
        throw new DataError(
          `${where(p, r, key)} is ${p.t.dtype} but tp 0 holds ${ps[0]!.t.dtype}`,
          { file: p.file },
          { reason: 'dtype' },
        );
    });
    return ps;
  };
  const split = (n: number, what: string): number => {
    if (n % tp)
      throw new DataError(
        `${what} ${n} is not divisible by the tensor-parallel size ${tp}`,
        { file: ck.configFile },
        { reason: 'bad-config' },
      );
    return n / tp;
  };
  const tensors: PlannedTensor[] = [];
  const add = (name: string, ps: Placed[], dim: number | 'replicated', shape: number[]) => {
    const dtype = ps[0]!.t.dtype;
    if (dim === 'replicated' || ps.length === 1) {
      tensors.push({ name, dtype, shape, read: () => ps[0]!.t.read(), direct: ps[0]!.t });
      return;
    }
    const ts = ps.map((p) => p.t);
    const stream = ts.every((t) => t.contiguous)
      ? (chunk: number) => (dim === 0 ? streamCat0(ps, chunk) : streamCat1(ts, chunk))
      : undefined;
    tensors.push({ name, dtype, shape, read: () => (dim === 0 ? cat0(ps) : cat1(ts)), stream });
  };
  // rows [k·n, (k+1)·n) of every rank, concatenated (v1's fused Wqkv)
  const addRows = (name: string, ps: Placed[], k: number, n: number, shape: number[]) => {
    const pieces = ps.map((p) => ({ t: p.t, start: k * n, count: n }));
    const stream = ps.every((p) => p.t.contiguous) ? (chunk: number) => streamCat0(pieces, chunk) : undefined;
    tensors.push({ name, dtype: ps[0]!.t.dtype, shape, read: () => cat0(pieces), stream });
  };

  // embedding: vocab-parallel (dim 0) or hidden split (dim 1)
  const embKeys =
    version === 'internlm'
      ? ['embedding.word_embeddings.weight', 'embedding.weight']
      : ['tok_embeddings.word_embeddings.weight', 'tok_embeddings.weight'];
  const embKey = embKeys.find((k) => ranks[0]!.has(k));
  if (!embKey) {
    const files = [...new Set([...ranks[0]!.values()].map((x) => x.file))].sort();
    throw new DataError(
      `no embedding (${embKeys.join(' or ')}) in the shards of tp 0; it lives in the pp 0 shard: ${files.join(', ')}`,
      { file: files[0] ?? ck.dir },
      { reason: 'missing-key' },
    );
  }
  const emb0 = part(0, embKey).t.shape;
  const vocab = c.embedSplitHidden ? emb0[0]! : emb0[0]! * tp;
  const embWant = c.embedSplitHidden ? [vocab, split(H, 'hidden_size')] : [emb0[0]!, H];
  const embParts = parts(
    embKey,
    embWant,
    c.embedSplitHidden
      ? 'embed_split_hidden: the hidden dim is split over tp'
      : 'vocab-parallel: the vocabulary is split over tp',
  );
  if (c.vocabSize !== -1 && c.vocabSize !== vocab) {
    throw new DataError(
      `the embedding has ${vocab} rows but model_config.pt says vocab_size ${c.vocabSize}`,
      { file: embParts[0]!.file },
      { reason: 'shape' },
    );
  }
  add(
    version === 'internlm' ? 'model.embed_tokens.weight' : 'model.tok_embeddings.weight',
    embParts,
    c.embedSplitHidden ? 1 : 0,
    [vocab, H],
  );

  let inter = 0;
  const interOf = (key: string): number => {
    const s = part(0, key).t.shape;
    return s[0]! * tp;
  };
  for (let i = 0; i < c.numLayers; i++) {
    if (version === 'internlm') {
      const b = `blocks.${i}.`;
      const hp = split(heads, 'num_attention_heads');
      const n = hp * d;
      const wqkv = parts(`${b}mixer.Wqkv.weight`, [3 * n, H], `3 × ${hp} heads × ${d} rows per rank`);
      const bqkv = parts(`${b}mixer.Wqkv.bias`, [3 * n], 'the fused q/k/v bias');
      ['q', 'k', 'v'].forEach((x, k) => {
        addRows(`model.layers.${i}.self_attn.${x}_proj.weight`, wqkv, k, n, [H, H]);
        addRows(`model.layers.${i}.self_attn.${x}_proj.bias`, bqkv, k, n, [H]);
      });
      add(
        `model.layers.${i}.self_attn.o_proj.weight`,
        parts(`${b}mixer.out_proj.weight`, [H, n], 'row parallel: the input dim is split'),
        1,
        [H, H],
      );
      add(
        `model.layers.${i}.self_attn.o_proj.bias`,
        parts(`${b}mixer.out_proj.bias`, [H], 'replicated'),
        'replicated',
        [H],
      );
      const I = interOf(`${b}mlp.w1.weight`);
      if (i === 0) inter = I;
      const ip = split(I, 'intermediate size');
      add(`model.layers.${i}.mlp.gate_proj.weight`, parts(`${b}mlp.w1.weight`, [ip, H], 'column parallel'), 0, [I, H]);
      add(`model.layers.${i}.mlp.up_proj.weight`, parts(`${b}mlp.w2.weight`, [ip, H], 'column parallel'), 0, [I, H]);
      add(`model.layers.${i}.mlp.down_proj.weight`, parts(`${b}mlp.w3.weight`, [H, ip], 'row parallel'), 1, [H, I]);
      add(`model.layers.${i}.input_layernorm.weight`, parts(`${b}norm1.weight`, [H], 'replicated'), 'replicated', [H]);
      add(
        `model.layers.${i}.post_attention_layernorm.weight`,
        parts(`${b}norm2.weight`, [H], 'replicated'),
        'replicated',
        [H],
      );
    } else {
      const b = `layers.${i}.`;
      const kv = c.numKvHeads;
      if (heads % kv)
        throw new DataError(
          `num_attention_heads ${heads} is not a multiple of num_kv_attention_heads ${kv}`,
          { file: ck.configFile },
          { reason: 'bad-config' },
        );
      const qPerKv = heads / kv;
      const gp = split(kv, 'num_kv_attention_heads');
      const rows = gp * (qPerKv + 2) * d;
      const wqkv = parts(
        `${b}attention.wqkv.weight`,
        [rows, H],
        `${gp} kv groups × (${qPerKv} q + k + v) × ${d} rows per rank`,
      );
      const name = `model.layers.${i}.attention.wqkv.weight`;
      const shape = [kv * (qPerKv + 2) * d, H];
      if (c.adaptHf) add(name, wqkv, 0, shape);
      else {
        const dtype = wqkv[0]!.t.dtype;
        const size = DTYPE_SIZE[dtype];
        if (d % 2)
          throw new DataError(
            `head dim ${d} is odd: the interleaved→half rotary permutation (adapt_hf false) needs an even one`,
            { file: ck.configFile },
            { reason: 'bad-config' },
          );
        tensors.push({ name, dtype, shape, read: () => permuteWqkv(cat0(wqkv), kv, qPerKv, d, H * size) });
      }
      add(
        `model.layers.${i}.attention.wo.weight`,
        parts(`${b}attention.wo.weight`, [H, split(H, 'hidden_size')], 'row parallel: the input dim is split'),
        1,
        [H, H],
      );
      const I = interOf(`${b}feed_forward.w1.weight`);
      if (i === 0) inter = I;
      const ip = split(I, 'intermediate size');
      add(
        `model.layers.${i}.feed_forward.w1.weight`,
        parts(`${b}feed_forward.w1.weight`, [ip, H], 'column parallel'),
        0,
        [I, H],
      );
      add(
        `model.layers.${i}.feed_forward.w3.weight`,
        parts(`${b}feed_forward.w3.weight`, [ip, H], 'column parallel'),
        0,
        [I, H],
      );
      add(`model.layers.${i}.feed_forward.w2.weight`, parts(`${b}feed_forward.w2.weight`, [H, ip], 'row parallel'), 1, [
        H,
        I,
      ]);
      add(
        `model.layers.${i}.attention_norm.weight`,
        parts(`${b}attention_norm.weight`, [H], 'replicated'),
        'replicated',
        [H],
      );
      add(`model.layers.${i}.ffn_norm.weight`, parts(`${b}ffn_norm.weight`, [H], 'replicated'), 'replicated', [H]);
    }
  }
  add('model.norm.weight', parts('norm.weight', [H], 'replicated'), 'replicated', [H]);
  const headKey = version === 'internlm' ? 'head.weight' : 'output.weight';
  const vp = part(0, headKey).t.shape[0]!;
  const headParts = parts(headKey, [vp, H], 'column parallel: the vocabulary is split');
  if (vp * tp !== vocab)
    throw new DataError(
      `the head has ${vp * tp} rows but the embedding ${vocab}`,
      { file: headParts[0]!.file },
      { reason: 'shape' },
    );
  const headName = version === 'internlm' ? 'lm_head.weight' : 'output.weight';
  if (version === 'internlm2' && c.normHead) {
    const dtype = headParts[0]!.t.dtype;
    tensors.push({
      name: headName,
      dtype,
      shape: [vocab, H],
      read: () => normalizeRows(cat0(headParts), vocab, H, dtype, headParts[0]!.file),
    });
  } else add(headName, headParts, 0, [vocab, H]);

  // anything not consumed is a key this converter does not know: refuse rather than drop weights
  for (let r = 0; r < ranks.length; r++) {
    for (const [key, p] of ranks[r]!) {
      if (used[r]!.has(key)) continue;
      const layer = /(?:blocks|layers)\.(\d+)\./.exec(key);
      const why =
        layer && Number(layer[1]) >= c.numLayers
          ? `layer ${layer[1]} after the pipeline merge, but model_config.pt says num_layers ${c.numLayers}`
          : `a key ${version === 'internlm' ? 'InternLM' : 'InternLM2'} checkpoints do not have (weft knows the keys in docs/INTERNLM-CHECKPOINT.md)`;
      throw new DataError(
        `unknown key ${p.key} (${key} after the pipeline merge): ${why}`,
        { file: p.file },
        { reason: 'unknown-key' },
      );
    }
  }
  return { tensors, intermediateSize: inter, vocabSize: vocab, dtype: embParts[0]!.t.dtype };
}

/** A planned tensor as a record for the safetensors writer (a direct copy streams). */
export function plannedRecord(p: PlannedTensor): TensorRecord {
  if (p.direct) return p.direct.record(p.name);
  const nbytes = numel(p.shape) * DTYPE_SIZE[p.dtype];
  return {
    name: p.name,
    dtype: p.dtype,
    shape: p.shape,
    nbytes,
    ...(p.stream ? { stream: (chunk = 16 << 20) => p.stream!(chunk) } : {}),
    read: async () => {
      const b = p.read();
      if (b.length !== nbytes) throw new Error(`${p.name}: built ${b.length} bytes, expected ${nbytes}`);
      return b;
    },
  };
}
