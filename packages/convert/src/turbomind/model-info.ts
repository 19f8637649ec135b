import { ropeParam } from './rope.ts';
import { pyFloat, type YamlValue } from './yaml.ts';

/** The HF model families this writer converts, by `architectures[0]` of config.json. */
export const TURBOMIND_ARCHS = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
  InternLM2ForCausalLM: 'internlm2',
  Qwen2ForCausalLM: 'qwen2',
} as const;

export type TurbomindFamily = (typeof TURBOMIND_ARCHS)[keyof typeof TURBOMIND_ARCHS];

export type TurbomindDType = 'auto' | 'float16' | 'bfloat16';

/** Everything the weight layout depends on, read from config.json and checked. */
export interface TurbomindModelInfo {
  arch: string;
  family: TurbomindFamily;
  numLayer: number;
  hidden: number;
  headNum: number;
  /** KV heads in the source model. */
  kvHeadNum: number;
  /** KV heads written (tp when KV heads are replicated). */
  kvHeadNumOut: number;
  /** How many times each KV head is repeated (1 = none). */
  kvRepeat: number;
  headDim: number;
  inter: number;
  /** `inter` rounded up to a multiple of tp. */
  interPadded: number;
  vocab: number;
  /** `vocab` rounded up to a multiple of tp (embedding and lm head rows). */
  vocabPadded: number;
  tp: number;
  attnBias: boolean;
  tieWordEmbeddings: boolean;
  weightType: 'float16' | 'bfloat16';
  normEps: number;
  /** `attention_config.rope_param` of config.yaml. */
  rope: { [k: string]: YamlValue };
  maxPositionEmbeddings: number;
  sessionLen: number;
}

/** An unsupported model or option; the message says what to do. */
export class TurbomindConfigError extends Error {
  override name = 'TurbomindConfigError';
}

function int(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new TurbomindConfigError(
      `config.json: "${key}" must be a non-negative integer (got ${JSON.stringify(cfg[key])})`,
    );
  }
  return v;
}

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** Keys lmdeploy reads the session length from; the smallest present wins. */
const SESSION_KEYS = [
  'max_position_embeddings',
  'n_positions',
  'max_seq_len',
  'seq_length',
  'model_max_length',
  'max_sequence_length',
  'max_seq_length',
  'seq_len',
];

/**
 * Read and check an HF config.json for conversion with tensor parallelism `tp`.
 *
 * @example
 * const info = turbomindModelInfo(JSON.parse(readFileSync('m/config.json', 'utf8')), { tp: 2, dtype: 'auto' });
 */
export function turbomindModelInfo(
  cfg: Record<string, unknown>,
  opts: { tp: number; dtype: TurbomindDType },
): TurbomindModelInfo {
  const archs = cfg['architectures'];
  const arch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (!arch) throw new TurbomindConfigError('config.json has no "architectures" list; cannot tell which model this is');
  const family = (TURBOMIND_ARCHS as Record<string, TurbomindFamily>)[arch];
  if (!family)
    throw new TurbomindConfigError(
      `architecture ${arch} is not supported by weft's Turbomind writer (supported: ${Object.keys(TURBOMIND_ARCHS).join(', ')})`,
    );
  if (cfg['quantization_config'] !== undefined && cfg['quantization_config'] !== null) {
    throw new TurbomindConfigError(
      'quantized models (quantization_config in config.json) are not supported; convert the unquantized model',
    );
  }
  const { tp, dtype } = opts;
  if (!Number.isSafeInteger(tp) || tp < 1 || (tp & (tp - 1)) !== 0)
    throw new TurbomindConfigError(`--tp must be a power of two (lmdeploy's rule), got ${tp}`);
  const numLayer = int(cfg, 'num_hidden_layers');
  const hidden = int(cfg, 'hidden_size');
  const headNum = int(cfg, 'num_attention_heads');
  const kvHeadNum = int(cfg, 'num_key_value_heads', headNum);
  const headDim = int(cfg, 'head_dim', Math.floor(hidden / headNum));
  const inter = int(cfg, 'intermediate_size');
  const vocab = int(cfg, 'vocab_size');
  if (headNum === 0 || kvHeadNum === 0 || headNum % kvHeadNum !== 0)
    throw new TurbomindConfigError(
      `num_attention_heads ${headNum} is not a multiple of num_key_value_heads ${kvHeadNum}`,
    );
  if ((family === 'llama' || family === 'qwen2') && ![64, 128].includes(Math.floor(hidden / headNum))) {
    throw new TurbomindConfigError(
      `head size hidden_size/num_attention_heads = ${hidden / headNum}: Turbomind (lmdeploy v0.9.2) supports 64 or 128 only`,
    );
  }
  if (family === 'internlm2' && headDim !== 128)
    throw new TurbomindConfigError(`internlm2 head size ${headDim}: lmdeploy v0.9.2 unpacks wqkv assuming 128`);
  if (headDim % 2 !== 0) throw new TurbomindConfigError(`head size ${headDim} must be even (rotary pairs)`);
  if (headNum % tp !== 0)
    throw new TurbomindConfigError(
      `--tp ${tp} does not divide num_attention_heads ${headNum}; choose a tp that divides it`,
    );
  let kvRepeat = 1;
  if (tp > kvHeadNum && tp % kvHeadNum === 0) kvRepeat = tp / kvHeadNum;
  else if (kvHeadNum % tp !== 0)
    throw new TurbomindConfigError(`--tp ${tp} and num_key_value_heads ${kvHeadNum}: one must divide the other`);
  if (hidden % tp !== 0) throw new TurbomindConfigError(`--tp ${tp} does not divide hidden_size ${hidden}`);
  if (family === 'llama' && cfg['attention_bias'] === true) {
    throw new TurbomindConfigError(
      'llama with attention_bias: lmdeploy v0.9.2 drops these biases; refusing to write a wrong model',
    );
  }
  let weightType: 'float16' | 'bfloat16';
  if (dtype === 'auto') weightType = cfg['torch_dtype'] === 'bfloat16' ? 'bfloat16' : 'float16';
  else if (dtype === 'float16' || dtype === 'bfloat16') weightType = dtype;
  else throw new TurbomindConfigError(`--dtype must be auto, float16 or bfloat16 (got ${String(dtype)})`);
  const eps = cfg['rms_norm_eps'];
  if (typeof eps !== 'number') throw new TurbomindConfigError('config.json: "rms_norm_eps" must be a number');
  const maxPositionEmbeddings = int(cfg, 'max_position_embeddings', 0);
  let rope: { [k: string]: YamlValue };
  try {
    rope = ropeParam(cfg, headDim, maxPositionEmbeddings);
  } catch (e) {
    throw new TurbomindConfigError((e as Error).message);
  }
  let sessionLen = Infinity;
  for (const k of SESSION_KEYS) {
    const v = cfg[k];
    if (typeof v === 'number') sessionLen = Math.min(sessionLen, v);
  }
  if (sessionLen === Infinity) sessionLen = 2048;
  return {
    arch,
    family,
    numLayer,
    hidden,
    headNum,
    kvHeadNum,
    kvHeadNumOut: kvHeadNum * kvRepeat,
    kvRepeat,
    headDim,
    inter,
    interPadded: roundUp(inter, tp),
    vocab,
    vocabPadded: roundUp(vocab, tp),
    tp,
    attnBias: family === 'qwen2',
    tieWordEmbeddings: cfg['tie_word_embeddings'] === true,
    weightType,
    normEps: eps,
    rope,
    maxPositionEmbeddings,
    sessionLen: Math.floor(sessionLen),
  };
}

/**
 * The contents of `triton_models/weights/config.yaml` (as a value for `safeDump`).
 *
 * @example
 * const text = safeDump(turbomindConfig(info, { modelName: 'm', chatTemplate: 'base', tokenizerSize: 32000 }));
 */
export function turbomindConfig(
  info: TurbomindModelInfo,
  o: { modelName: string; chatTemplate: string; tokenizerSize: number },
): { [k: string]: YamlValue } {
  return {
    model_config: {
      model_name: o.modelName,
      chat_template: o.chatTemplate,
      model_arch: info.arch,
      head_num: info.headNum,
      kv_head_num: info.kvHeadNumOut,
      hidden_units: info.hidden,
      vocab_size: info.vocab,
      embedding_size: info.vocab,
      tokenizer_size: Math.min(o.tokenizerSize, info.vocab),
      num_layer: info.numLayer,
      inter_size: Array.from({ length: info.numLayer }, () => info.interPadded),
      norm_eps: pyFloat(info.normEps),
      attn_bias: info.attnBias ? 1 : 0,
      qk_norm: false,
      size_per_head: info.headDim,
      group_size: 0,
      weight_type: info.weightType,
      session_len: info.sessionLen,
      attn_tp_size: info.tp,
      mlp_tp_size: info.tp,
      model_format: 'hf',
      expert_num: [],
      expert_inter_size: 0,
      experts_per_token: 0,
      moe_shared_gate: false,
      norm_topk_prob: false,
      routed_scale: pyFloat(1),
      topk_group: 1,
      topk_method: 'greedy',
      moe_group_num: 1,
      q_lora_rank: 0,
      kv_lora_rank: 0,
      qk_rope_dim: 0,
      v_head_dim: 0,
      tune_layer_num: 1,
    },
    attention_config: {
      softmax_scale: 0,
      cache_block_seq_len: 64,
      use_logn_attn: 0,
      max_position_embeddings: info.maxPositionEmbeddings,
      rope_param: info.rope,
    },
    lora_config: {
      lora_policy: '',
      lora_r: 0,
      lora_scale: pyFloat(0),
      lora_max_wo_r: 0,
      lora_rank_pattern: '',
      lora_scale_pattern: '',
    },
  };
}
