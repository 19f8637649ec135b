import { closeSync, copyFileSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkOutputDir, DataError, Progress, StagedOutputDir, writeAllSync } from '@weft/core';
import { castBytes, CASTABLE } from '../cast.ts';
import { DTYPE_SIZE, numel, type TensorRecord } from '../tensor.ts';
import { compose, gatherInto, internlm2Rows, iota, paddedRange, qkvRank, repeatHeads, rotaryOrder } from './layout.ts';
import { turbomindConfig, turbomindModelInfo, type TurbomindDType, type TurbomindModelInfo } from './model-info.ts';
import { safeDump } from './yaml.ts';

export interface WriteTurbomindOptions {
  /** The model's parsed config.json. */
  config: Record<string, unknown>;
  /** Name recorded in config.yaml (`model_name`). */
  modelName: string;
  /** Tensor-parallel ranks the weights are split for (power of two). Default 1. */
  tp?: number;
  /** auto: bf16 models stay bf16, everything else becomes fp16. Default auto. */
  dtype?: TurbomindDType;
  /** lmdeploy chat template name recorded in config.yaml. Default 'base'. */
  chatTemplate?: string;
  /** `len(tokenizer)`; config.yaml keeps min(this, vocab_size). Default vocab_size. */
  tokenizerSize?: number;
  /** Files copied to the top of the workspace (tokenizer, config.json, ...), as lmdeploy does. */
  copyFiles?: string[];
  /** Show progress on stderr. Default false. */
  progress?: boolean;
  /** Replace an earlier weft output at the destination (`--overwrite`); never a folder weft did not write. */
  overwrite?: boolean;
  /** What the conversion reads (the HF folder): the destination may not be, contain or lie inside it. */
  inputs?: string[];
}

export interface WrittenTurbomind {
  dir: string;
  /** Paths relative to `dir`, sorted. */
  files: string[];
  /** Source tensors the layout does not use (rotary caches, ...), reported rather than lost. */
  unused: string[];
  info: TurbomindModelInfo;
}

type PutGather = (
  name: string,
  src: Uint16Array,
  srcCols: number,
  rows: Int32Array,
  cols: Int32Array,
  transpose: boolean,
) => void;

interface Names {
  emb: string;
  norm: string;
  out: string;
  layer(i: number): {
    norms: [string, string];
    attn: string[];
    bias: string[];
    wo: string;
    ffn: [string, string, string];
  };
}

function names(info: TurbomindModelInfo): Names {
  if (info.family === 'internlm2') {
    return {
      emb: 'model.tok_embeddings.weight',
      norm: 'model.norm.weight',
      out: info.tieWordEmbeddings ? 'model.tok_embeddings.weight' : 'output.weight',
      layer: (i) => {
        const p = `model.layers.${i}.`;
        return {
          norms: [`${p}attention_norm.weight`, `${p}ffn_norm.weight`],
          attn: [`${p}attention.wqkv.weight`],
          bias: [],
          wo: `${p}attention.wo.weight`,
          ffn: [`${p}feed_forward.w1.weight`, `${p}feed_forward.w3.weight`, `${p}feed_forward.w2.weight`],
        };
      },
    };
  }
  return {
    emb: 'model.embed_tokens.weight',
    norm: 'model.norm.weight',
    out: info.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight',
    layer: (i) => {
      const p = `model.layers.${i}.`;
      const a = `${p}self_attn.`;
      return {
        norms: [`${p}input_layernorm.weight`, `${p}post_attention_layernorm.weight`],
        attn: [`${a}q_proj.weight`, `${a}k_proj.weight`, `${a}v_proj.weight`],
        bias: info.attnBias ? [`${a}q_proj.bias`, `${a}k_proj.bias`, `${a}v_proj.bias`] : [],
        wo: `${a}o_proj.weight`,
        ffn: [`${p}mlp.gate_proj.weight`, `${p}mlp.up_proj.weight`, `${p}mlp.down_proj.weight`],
      };
    },
  };
}

/**
 * A source tensor cast to the weight type, as 16-bit elements, into `dest` at element `at` (a new
 * array when no `dest`). Streams the source in chunks when the record can, so an fp32 tensor
 * never sits in memory beside its 16-bit copy.
 */
async function load(
  t: TensorRecord,
  shape: number[],
  to: 'F16' | 'BF16',
  dest?: Uint16Array,
  at = 0,
): Promise<Uint16Array> {
  const where = t.source ? { file: t.source.file, offset: t.source.offset } : { file: t.name };
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new DataError(
      `tensor ${t.name} has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`,
      where,
      { reason: 'shape' },
    );
  }
  if (!CASTABLE.has(t.dtype))
    throw new DataError(`tensor ${t.name} is ${t.dtype}; only float tensors can be converted`, where, {
      reason: 'dtype',
    });
  const n = numel(shape);
  const out = dest ?? new Uint16Array(n);
  const fill = (bytes: Uint8Array): void => {
    let b = castBytes(bytes, t.dtype, to);
    if (b.byteOffset % 2 !== 0) b = new Uint8Array(b);
    out.set(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2), at);
    at += b.byteLength / 2;
  };
  if (!t.stream) fill(await t.read());
  else {
    const es = DTYPE_SIZE[t.dtype];
    let carry = new Uint8Array(0);
    for await (const chunk of t.stream(8 << 20)) {
      const joined = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = joined.length - (joined.length % es);
      fill(joined.subarray(0, whole));
      carry = new Uint8Array(joined.subarray(whole)); // copy: stream chunks may reuse their buffer
    }
  }
  return out;
}

/**
 * One reusable buffer for the tensor being converted: every step's source is dead before the
 * next one is loaded, and reusing the memory keeps the peak at the largest tensor instead of
 * waiting for the garbage collector to return the previous one.
 */
class Scratch {
  private buf = new Uint16Array(0);
  take(n: number): Uint16Array {
    if (this.buf.length < n) {
      this.buf = new Uint16Array(0);
      this.buf = new Uint16Array(n);
    }
    return this.buf.subarray(0, n);
  }
}

/** Rows of the gathered tensor a chunk of output holds (~4 MB), so no output is held whole. */
const OUT_CHUNK_BYTES = 4 << 20;

function rankName(name: string, r: number): string {
  const dot = name.lastIndexOf('.');
  return `${name.slice(0, dot)}.${r}${name.slice(dot)}`;
}

/** Embedding, final norm and lm head (one vocab-sized tensor in memory at a time unless tied). */
async function writeMisc(
  info: TurbomindModelInfo,
  N: Names,
  get: (n: string) => TensorRecord,
  put: (n: string, d: Uint16Array) => void,
  putGather: PutGather,
  to: 'F16' | 'BF16',
  scratch: Scratch,
): Promise<void> {
  const { hidden: H, tp: T } = info;
  const all = iota(H);
  const emb = await load(get(N.emb), [info.vocab, H], to, scratch.take(info.vocab * H));
  const embRows = paddedRange(0, info.vocabPadded, info.vocab);
  for (let r = 0; r < T; r++)
    putGather(rankName('tok_embeddings.weight', r), emb, H, embRows, iota(H / T, (r * H) / T), false);
  // the lm head reuses the embedding's memory (same tensor when tied)
  const lm = N.out === N.emb ? emb : await load(get(N.out), [info.vocab, H], to, scratch.take(info.vocab * H));
  const vs = info.vocabPadded / T;
  for (let r = 0; r < T; r++)
    putGather(rankName('output.weight', r), lm, H, all, paddedRange(r * vs, vs, info.vocab), true);
  put('norm.weight', await load(get(N.norm), [H], to));
}

/**
 * Sink: write an lmdeploy v0.9.2 Turbomind workspace (`<dstDir>/triton_models/weights/` with
 * config.yaml and raw weight files, tokenizer files at the top) from an HF model's tensors.
 * The layout is described in packages/convert/TURBOMIND.md. Records are lazy: one layer's
 * tensors are read at a time. The workspace is built beside `dstDir` and renamed into place
 * (an existing `dstDir` is replaced only when it is an earlier weft output and `overwrite` is set;
 * lmdeploy replaces whatever is there).
 *
 * @example
 * const config = JSON.parse(readFileSync('llama/config.json', 'utf8'));
 * await writeTurbomind('workspace', readSafetensors('llama'), { config, modelName: 'llama', tp: 2 });
 */
export async function writeTurbomind(
  dstDir: string,
  tensors: AsyncIterable<TensorRecord> | Iterable<TensorRecord>,
  opts: WriteTurbomindOptions,
): Promise<WrittenTurbomind> {
  const output = {
    command: 'convert hf-to-turbomind',
    inputs: opts.inputs ?? [],
    overwrite: opts.overwrite ?? false,
    option: '--dst-path',
  };
  checkOutputDir(dstDir, output); // before any work
  const tp = opts.tp ?? 1;
  const info = turbomindModelInfo(opts.config, { tp, dtype: opts.dtype ?? 'auto' });
  const yaml = safeDump(
    turbomindConfig(info, {
      modelName: opts.modelName,
      chatTemplate: opts.chatTemplate ?? 'base',
      tokenizerSize: opts.tokenizerSize ?? info.vocab,
    }),
  );
  const byName = new Map<string, TensorRecord>();
  for await (const t of tensors) {
    if (byName.has(t.name))
      throw new DataError(`tensor ${t.name} appears twice`, t.source ?? { file: t.name }, { reason: 'duplicate' });
    byName.set(t.name, t);
  }
  const used = new Set<string>();
  const get = (name: string): TensorRecord => {
    const t = byName.get(name);
    if (!t)
      throw new DataError(
        `tensor ${name} is missing (a ${info.arch} checkpoint needs it)`,
        { file: name },
        { reason: 'missing' },
      );
    used.add(name);
    return t;
  };
  const to = info.weightType === 'bfloat16' ? 'BF16' : 'F16';
  const dst = resolve(dstDir);
  const staged = await StagedOutputDir.create(dst, output);
  const tmp = staged.path;
  const wdir = join(tmp, 'triton_models', 'weights');
  mkdirSync(wdir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, data: Uint16Array | string): void => {
    writeFileSync(
      join(wdir, name),
      typeof data === 'string' ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    files.push(`triton_models/weights/${name}`);
  };
  /** Write `gather(src, ...)` to `name` a few MB of rows at a time. */
  const putGather: PutGather = (name, src, srcCols, rows, cols, transpose) => {
    const fd = openSync(join(wdir, name), 'w');
    try {
      const step = Math.max(1, Math.floor(OUT_CHUNK_BYTES / (2 * cols.length)));
      const buf = new Uint16Array(Math.min(step, rows.length) * cols.length);
      for (let a0 = 0; a0 < rows.length; a0 += step) {
        const part = rows.subarray(a0, Math.min(a0 + step, rows.length));
        const out = buf.subarray(0, part.length * cols.length);
        out.fill(0);
        gatherInto(out, src, srcCols, part, cols, transpose);
        writeAllSync(fd, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      }
    } finally {
      closeSync(fd);
    }
    files.push(`triton_models/weights/${name}`);
  };
  try {
    put('config.yaml', yaml);
    const N = names(info);
    const { hidden: H, tp: T, headDim: D, headNum, kvHeadNum, kvRepeat } = info;
    const progress = new Progress({
      label: 'hf-to-turbomind',
      total: info.numLayer + 1,
      unit: 'layers',
      enabled: opts.progress ?? false,
    });
    const all = iota(H);

    // embedding: vocab rows padded, split by hidden columns; lm head: padded, transposed, split by vocab columns.
    // In a function of its own so neither vocab-sized tensor outlives it.
    const scratch = new Scratch();
    await writeMisc(info, N, get, put, putGather, to, scratch);
    progress.tick();

    const qDim = headNum * D,
      kvDim = kvHeadNum * D;
    // feature maps, in source rows, of q / k / v after KV replication and the rotary reorder
    const qMap = rotaryOrder(headNum, D);
    const kvRep = repeatHeads(kvHeadNum, D, kvRepeat);
    const kMap = compose(kvRep, rotaryOrder(kvHeadNum * kvRepeat, D));
    const vMap = kvRep;
    const ip = info.interPadded / T;
    for (let i = 0; i < info.numLayer; i++) {
      const L = N.layer(i);
      put(`layers.${i}.attention_norm.weight`, await load(get(L.norms[0]), [H], to));
      put(`layers.${i}.ffn_norm.weight`, await load(get(L.norms[1]), [H], to));

      // q, k, v stacked as rows of one [q+k+v, hidden] source (InternLM2's wqkv already is one)
      let stacked: Uint16Array;
      let q = qMap,
        k = kMap,
        v = vMap;
      let kOff = qDim,
        vOff = qDim + kvDim;
      if (info.family === 'internlm2') {
        stacked = await load(
          get(L.attn[0]!),
          [(headNum + 2 * kvHeadNum) * D, H],
          to,
          scratch.take((headNum + 2 * kvHeadNum) * D * H),
        );
        const rows = internlm2Rows(headNum, kvHeadNum, D);
        q = compose(rows.q, qMap);
        k = compose(rows.k, kMap);
        v = compose(rows.v, vMap);
        kOff = 0;
        vOff = 0;
      } else {
        stacked = scratch.take((qDim + 2 * kvDim) * H);
        await load(get(L.attn[0]!), [qDim, H], to, stacked, 0);
        await load(get(L.attn[1]!), [kvDim, H], to, stacked, qDim * H);
        await load(get(L.attn[2]!), [kvDim, H], to, stacked, (qDim + kvDim) * H);
      }
      for (let r = 0; r < T; r++)
        putGather(`layers.${i}.attention.w_qkv.${r}.weight`, stacked, H, all, qkvRank(q, k, v, T, r, kOff, vOff), true);
      const wo = await load(get(L.wo), [H, qDim], to, scratch.take(H * qDim));
      const woRows = qDim / T;
      for (let r = 0; r < T; r++)
        putGather(`layers.${i}.attention.wo.${r}.weight`, wo, qDim, iota(woRows, r * woRows), all, true);
      if (L.bias.length > 0) {
        const bias = new Uint16Array(qDim + 2 * kvDim);
        bias.set(await load(get(L.bias[0]!), [qDim], to), 0);
        bias.set(await load(get(L.bias[1]!), [kvDim], to), qDim);
        bias.set(await load(get(L.bias[2]!), [kvDim], to), qDim + kvDim);
        for (let r = 0; r < T; r++)
          putGather(
            `layers.${i}.attention.w_qkv.${r}.bias`,
            bias,
            1,
            qkvRank(qMap, kMap, vMap, T, r, qDim, qDim + kvDim),
            new Int32Array([0]),
            false,
          );
        // o_proj has no bias: lmdeploy writes zeros, whole on every rank (hidden long when KV heads are replicated, else q long)
        const zeros = new Uint16Array(kvRepeat > 1 ? H : qDim);
        for (let r = 0; r < T; r++) put(`layers.${i}.attention.wo.${r}.bias`, zeros);
      }

      const [w1n, w3n, w2n] = L.ffn;
      for (const [name, out] of [
        [w1n, 'w1'],
        [w3n, 'w3'],
      ] as const) {
        const w = await load(get(name), [info.inter, H], to, scratch.take(info.inter * H));
        for (let r = 0; r < T; r++)
          putGather(
            `layers.${i}.feed_forward.${out}.${r}.weight`,
            w,
            H,
            all,
            paddedRange(r * ip, ip, info.inter),
            true,
          );
      }
      const w2 = await load(get(w2n), [H, info.inter], to, scratch.take(H * info.inter));
      for (let r = 0; r < T; r++)
        putGather(
          `layers.${i}.feed_forward.w2.${r}.weight`,
          w2,
          info.inter,
          paddedRange(r * ip, ip, info.inter),
          all,
          true,
        );
      progress.tick();
    }
    progress.done();
    for (const f of opts.copyFiles ?? []) {
      copyFileSync(f, join(tmp, basename(f)));
      files.push(basename(f));
    }
    await staged.commit();
  } catch (e) {
    await staged.abort();
    throw e;
  }
  const unused = [...byName.keys()].filter((n) => !used.has(n)).sort();
  return { dir: dst, files: files.sort(), unused, info };
}
