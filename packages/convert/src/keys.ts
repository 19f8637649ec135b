import type { TensorRecord } from './tensor.ts';

/** Records renamed for Hugging Face, and the names that were left out (with why). */
export interface MappedKeys {
  tensors: TensorRecord[];
  dropped: string[];
}

const allHave = (names: string[], prefix: string) => names.length > 0 && names.every((n) => n.startsWith(prefix));

/**
 * Map checkpoint names to HF names the way xtuner's `pth_to_hf` ends up with them: drop a
 * `module.` prefix every name has (DDP/DeepSpeed wrappers), then keep what lives under `llm.`
 * without the prefix (xtuner's SupervisedFinetune holds the HF model as `.llm`); anything else
 * beside `llm.` (projectors, vision towers) is left out and reported.
 *
 * @example
 * mapXtunerKeys(records).tensors.map((t) => t.name); // 'llm.model.norm.weight' → 'model.norm.weight'
 */
export function mapXtunerKeys(records: TensorRecord[]): MappedKeys {
  let tensors = records;
  if (
    allHave(
      tensors.map((t) => t.name),
      'module.',
    )
  )
    tensors = tensors.map((t) => ({ ...t, name: t.name.slice('module.'.length) }));
  const dropped: string[] = [];
  if (tensors.some((t) => t.name.startsWith('llm.'))) {
    const keep: TensorRecord[] = [];
    for (const t of tensors) {
      if (t.name.startsWith('llm.')) keep.push({ ...t, name: t.name.slice(4) });
      else dropped.push(t.name);
    }
    tensors = keep;
  }
  return { tensors, dropped };
}

/** True when the names are those of a LoRA adapter (PEFT's lora_A / lora_B). */
export function isLoraStateDict(records: TensorRecord[]): boolean {
  return records.some((t) => /\.lora_[AB]\./.test(t.name));
}

/**
 * Rename LoRA tensors the way PEFT's `save_pretrained` stores them in adapter_model.safetensors:
 * `base_model.model.<module>.lora_A.weight`, without the adapter name (`.default`). Base-model
 * weights in the state dict are not part of an adapter and are left out.
 *
 * @example
 * peftAdapterKeys(records); // 'model.layers.0.self_attn.q_proj.lora_A.default.weight' → 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'
 */
export function peftAdapterKeys(records: TensorRecord[]): MappedKeys {
  const tensors: TensorRecord[] = [];
  const dropped: string[] = [];
  for (const t of records) {
    if (!/\.(lora_[AB]|lora_embedding_[AB]|modules_to_save)\b/.test(t.name)) {
      dropped.push(t.name);
      continue;
    }
    let name = t.name
      .replace(/\.(lora_[AB]|lora_embedding_[AB])\.default(\.|$)/, '.$1$2')
      .replace(/\.modules_to_save\.default\./, '.');
    if (!name.startsWith('base_model.model.')) name = `base_model.model.${name}`;
    tensors.push({ ...t, name });
  }
  return { tensors, dropped };
}

/** PEFT's adapter_config.json for the adapter tensors (r and target modules read from them). */
export function loraAdapterConfig(
  records: TensorRecord[],
  opts: { loraAlpha: number; loraDropout?: number; baseModel?: string },
): Record<string, unknown> {
  const targets = new Set<string>();
  let r = 0;
  for (const t of records) {
    const m = /\.([^.]+)\.lora_A\.weight$/.exec(t.name);
    if (m) {
      targets.add(m[1]!);
      r = t.shape[0] ?? r;
    }
  }
  const cfg: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: opts.baseModel ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: opts.loraAlpha,
    lora_dropout: opts.loraDropout ?? 0,
    modules_to_save: null,
    peft_type: 'LORA',
    r,
    rank_pattern: {},
    revision: null,
    target_modules: [...targets].sort(),
    task_type: 'CAUSAL_LM',
  };
  return cfg;
}
