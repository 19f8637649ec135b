import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkOutputDir, DataError, Progress, StagedOutputDir, writeFileAtomic } from '@weft/core';
import {
  openInternlmCheckpoint,
  planInternlmToHf,
  plannedRecord,
  type InternlmCheckpoint,
  type InternlmPlan,
  type InternlmVersion,
} from './internlm-layout.ts';
import { writeSafetensors, type WrittenSafetensors } from './safetensors-write.ts';
import { CASTABLE } from './cast.ts';
import { DTYPE_SIZE, numel, type DType } from './tensor.ts';
import { sentencepiecePieces } from './turbomind/tokenizer-size.ts';

/** Options for {@link internlmToHf}. */
export interface InternlmToHfOptions {
  /** The checkpoint folder of one step (model_tp*_pp*.pt + model_config.pt). */
  ckpt: string;
  out: string;
  /** sentencepiece tokenizer.model, copied into the output with a tokenizer_config.json. */
  tokenizer?: string;
  /** Checked against the keys (which tell the version anyway). */
  modelType?: InternlmVersion;
  maxShardSize?: string | number;
  dtype?: DType;
  /** config.json max_position_embeddings (default 4096, as InternEvo's convert scripts). */
  maxPositionEmbeddings?: number;
  /** Rotary kind: `origin` or `dynamic` NTK (default: origin for internlm, dynamic for internlm2, as the scripts). */
  rotaryType?: 'origin' | 'dynamic';
  /** Dynamic NTK factor (default 1.0 for internlm, 2.0 for internlm2, as the scripts). */
  scalingFactor?: number;
  /** A HF InternLM model folder whose `*.py` (remote code) are copied into the output. */
  codeFrom?: string;
  progress?: boolean;
  overwrite?: boolean;
  /** Bytes per streamed read (tests use small ones to cross chunk boundaries). Default 16 MiB. */
  chunkBytes?: number;
}

/** What {@link internlmToHf} did. */
export interface InternlmToHfResult extends WrittenSafetensors {
  version: InternlmVersion;
  tp: number;
  pp: number;
  /** Other files written beside the weights. */
  extra: string[];
  warnings: string[];
}

const TORCH_DTYPE: Partial<Record<DType, string>> = {
  BF16: 'bfloat16',
  F16: 'float16',
  F32: 'float32',
  F64: 'float64',
};

// The chat formats of InternLM's chat models, as xtuner's internlm_chat / internlm2_chat templates.
const CHAT_TEMPLATE: Record<InternlmVersion, string> = {
  internlm:
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|System|>:' + message['content'] + '\\n' }}" +
    "{% elif message['role'] == 'user' %}{{ '<|User|>:' + message['content'] + '<eoh>\\n' }}" +
    "{% else %}{{ '<|Bot|>:' + message['content'] + '<eoa>\\n' }}{% endif %}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|Bot|>:' }}{% endif %}",
  internlm2:
    "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
};

/** Token ids the config names, read from the sentencepiece model (InternLM's tokenizers: bos <s>, eos and pad </s>). */
function tokenIds(tokenizer: string | undefined): { bos: number; eos: number; pad: number; imEnd?: number } {
  if (!tokenizer) return { bos: 1, eos: 2, pad: 2 };
  const pieces = sentencepiecePieces(readFileSync(tokenizer), tokenizer);
  const id = (p: string, fallback: number) => {
    const i = pieces.indexOf(p);
    return i < 0 ? fallback : i;
  };
  const imEnd = pieces.indexOf('<|im_end|>');
  return { bos: id('<s>', 1), eos: id('</s>', 2), pad: id('</s>', 2), ...(imEnd >= 0 ? { imEnd } : {}) };
}

/** config.json of the converted model (docs/INTERNLM-CHECKPOINT.md, "Written files"). */
export function internlmHfConfig(
  ck: InternlmCheckpoint,
  plan: InternlmPlan,
  o: InternlmToHfOptions,
  ids: { bos: number; eos: number; pad: number },
): Record<string, unknown> {
  const c = ck.config;
  const dtype = o.dtype ?? plan.dtype;
  const rotary = o.rotaryType ?? (ck.version === 'internlm' ? 'origin' : 'dynamic');
  const factor = o.scalingFactor ?? (ck.version === 'internlm' ? 1.0 : 2.0);
  const common = {
    vocab_size: plan.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: plan.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
  };
  const tail = {
    hidden_act: 'silu',
    max_position_embeddings: o.maxPositionEmbeddings ?? 4096,
    initializer_range: 0.02,
    rms_norm_eps: c.layerNormEpsilon ?? 1e-6,
    use_cache: true,
    bos_token_id: ids.bos,
    eos_token_id: ids.eos,
    pad_token_id: ids.pad,
    tie_word_embeddings: false,
    torch_dtype: TORCH_DTYPE[dtype] ?? 'float32',
  };
  if (ck.version === 'internlm') {
    return {
      architectures: ['InternLMForCausalLM'],
      auto_map: {
        AutoConfig: 'configuration_internlm.InternLMConfig',
        AutoModel: 'modeling_internlm.InternLMForCausalLM',
        AutoModelForCausalLM: 'modeling_internlm.InternLMForCausalLM',
      },
      model_type: 'internlm',
      ...common,
      ...tail,
      bias: true,
      rotary: { base: c.ropeBase, type: rotary, ...(rotary === 'dynamic' ? { scaling_factor: factor } : {}) },
    };
  }
  return {
    architectures: ['InternLM2ForCausalLM'],
    auto_map: {
      AutoConfig: 'configuration_internlm2.InternLM2Config',
      AutoModel: 'modeling_internlm2.InternLM2ForCausalLM',
      AutoModelForCausalLM: 'modeling_internlm2.InternLM2ForCausalLM',
    },
    model_type: 'internlm2',
    ...common,
    num_key_value_heads: c.numKvHeads,
    ...tail,
    bias: !c.noBias,
    rope_theta: c.ropeBase,
    rope_scaling: rotary === 'dynamic' ? { type: 'dynamic', factor } : null,
    attn_implementation: 'eager',
  };
}

/**
 * `weft convert internlm-to-hf`: an InternLM / InternEvo training checkpoint folder
 * (`model_tp{T}_pp{P}.pt` + `model_config.pt`) → a Hugging Face folder: tp and pp shards merged,
 * keys renamed and the fused attention split (v1) or kept fused (v2) as InternLM's convert2hf
 * scripts do, written as sharded safetensors + index + config.json + generation_config.json +
 * tokenizer files. Tensors are built one at a time from the shards.
 *
 * @example
 * await internlmToHf({ ckpt: 'ckpts/5000', out: 'hf/', tokenizer: 'tools/V7_sft.model' });
 */
export async function internlmToHf(o: InternlmToHfOptions): Promise<InternlmToHfResult> {
  const output = {
    command: 'convert internlm-to-hf',
    inputs: [o.ckpt, o.tokenizer, o.codeFrom],
    overwrite: o.overwrite ?? false,
  };
  checkOutputDir(o.out, output); // before any work
  const ck = openInternlmCheckpoint(o.ckpt, o.modelType);
  const plan = planInternlmToHf(ck);
  const warnings: string[] = [];
  if (!o.tokenizer)
    warnings.push(
      "no --tokenizer: no tokenizer files written; bos/eos/pad ids in config.json are InternLM's usual 1/2/2",
    );
  const ids = tokenIds(o.tokenizer);
  const staged = await StagedOutputDir.create(o.out, output);
  try {
    const total = plan.tensors.reduce(
      (s, t) => s + numel(t.shape) * DTYPE_SIZE[o.dtype && CASTABLE.has(t.dtype) ? o.dtype : t.dtype],
      0,
    );
    const bar = new Progress({ label: 'internlm-to-hf', total, unit: 'B', enabled: o.progress ?? true });
    const written = await writeSafetensors(staged.path, plan.tensors.map(plannedRecord), {
      maxShardSize: o.maxShardSize,
      dtype: o.dtype,
      stem: 'model',
      chunkBytes: o.chunkBytes,
      onTensor: (_t, n) => bar.tick(n),
    });
    bar.done();
    const extra: string[] = [];
    const put = async (name: string, data: string | Uint8Array) => {
      await writeFileAtomic(join(staged.path, name), data);
      extra.push(name);
    };
    const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
    await put('config.json', json(internlmHfConfig(ck, plan, o, ids)));
    const eos = ck.version === 'internlm2' && ids.imEnd !== undefined ? [ids.eos, ids.imEnd] : ids.eos;
    await put(
      'generation_config.json',
      json({ _from_model_config: true, bos_token_id: ids.bos, eos_token_id: eos, pad_token_id: ids.pad }),
    );
    if (o.tokenizer) {
      await put('tokenizer.model', readFileSync(o.tokenizer));
      const v2 = ck.version === 'internlm2';
      await put(
        'tokenizer_config.json',
        json({
          tokenizer_class: v2 ? 'InternLM2Tokenizer' : 'InternLMTokenizer',
          auto_map: {
            AutoTokenizer: v2
              ? ['tokenization_internlm2.InternLM2Tokenizer', 'tokenization_internlm2_fast.InternLM2TokenizerFast']
              : ['tokenization_internlm.InternLMTokenizer', null],
          },
          bos_token: '<s>',
          eos_token: '</s>',
          pad_token: '</s>',
          unk_token: '<unk>',
          add_bos_token: true,
          add_eos_token: false,
          clean_up_tokenization_spaces: false,
          model_max_length: o.maxPositionEmbeddings ?? 4096,
          chat_template: CHAT_TEMPLATE[ck.version],
        }),
      );
      await put(
        'special_tokens_map.json',
        json({ bos_token: '<s>', eos_token: '</s>', pad_token: '</s>', unk_token: '<unk>' }),
      );
    }
    if (o.codeFrom) {
      const py = readdirSync(o.codeFrom)
        .filter((f) => f.endsWith('.py') && statSync(join(o.codeFrom!, f)).isFile())
        .sort();
      if (py.length === 0)
        throw new DataError(
          '--code-from: no .py files (configuration_*.py, modeling_*.py, tokenization_*.py) in this folder',
          { file: o.codeFrom },
          { reason: 'no-code' },
        );
      for (const f of py) await put(basename(f), readFileSync(join(o.codeFrom, f)));
    }
    await staged.commit();
    return {
      ...written,
      files: written.files.map((f) => join(o.out, basename(f))),
      version: ck.version,
      tp: ck.tp,
      pp: ck.pp,
      extra,
      warnings,
    };
  } catch (e) {
    await staged.abort();
    throw e;
  }
}
