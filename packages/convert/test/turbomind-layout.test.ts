// weft's Turbomind weights against an independent torch implementation of the layout in
// TURBOMIND.md (test/turbomind_reference.py: reshape/transpose/cat/chunk, torch's own casts),
// over shapes the golden fixture does not cover: tp=4, KV replication by 2 and 4, GQA groups of
// 2 in internlm2's packed wqkv, padding of vocab and intermediate size, fp32/fp16/bf16 sources.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/safetensors-read.ts';
import { writeTurbomind } from '../src/turbomind/index.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const PY = '/usr/bin/python3';
const REF = join(import.meta.dirname, 'turbomind_reference.py');
const work = tempDir('weft-tm-layout-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  name: string;
  family: 'llama' | 'internlm2' | 'qwen2';
  tp: number;
  src_dtype: string;
  weight_type: 'float16' | 'bfloat16';
  dtype: 'auto' | 'float16' | 'bfloat16';
  config: Record<string, unknown>;
}

const base = { rms_norm_eps: 1e-6, max_position_embeddings: 64, num_hidden_layers: 2 };
const CASES: Case[] = [
  {
    name: 'llama fp32 → fp16, tp=2, no replication, padded inter and vocab',
    family: 'llama',
    tp: 2,
    src_dtype: 'float32',
    weight_type: 'float16',
    dtype: 'auto',
    config: {
      ...base,
      architectures: ['LlamaForCausalLM'],
      hidden_size: 128,
      num_attention_heads: 2,
      num_key_value_heads: 2,
      intermediate_size: 51,
      vocab_size: 33,
      torch_dtype: 'float32',
    },
  },
  {
    name: 'llama bf16, tp=4, KV heads replicated 4×',
    family: 'llama',
    tp: 4,
    src_dtype: 'bfloat16',
    weight_type: 'bfloat16',
    dtype: 'auto',
    config: {
      ...base,
      architectures: ['LlamaForCausalLM'],
      hidden_size: 256,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      intermediate_size: 30,
      vocab_size: 30,
      torch_dtype: 'bfloat16',
    },
  },
  {
    name: 'internlm2 fp16, GQA groups of 2, tp=2',
    family: 'internlm2',
    tp: 2,
    src_dtype: 'float16',
    weight_type: 'float16',
    dtype: 'auto',
    config: {
      ...base,
      num_hidden_layers: 1,
      architectures: ['InternLM2ForCausalLM'],
      hidden_size: 512,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 24,
      vocab_size: 20,
      torch_dtype: 'float16',
    },
  },
  {
    name: 'internlm2 bf16 → fp16, tp=4, KV replicated 2×',
    family: 'internlm2',
    tp: 4,
    src_dtype: 'bfloat16',
    weight_type: 'float16',
    dtype: 'float16',
    config: {
      ...base,
      num_hidden_layers: 1,
      architectures: ['InternLM2ForCausalLM'],
      hidden_size: 512,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 24,
      vocab_size: 21,
      torch_dtype: 'bfloat16',
    },
  },
  {
    name: 'qwen2 fp32 → bf16, biases, tied embeddings, tp=4, KV replicated 2×',
    family: 'qwen2',
    tp: 4,
    src_dtype: 'float32',
    weight_type: 'bfloat16',
    dtype: 'bfloat16',
    config: {
      ...base,
      architectures: ['Qwen2ForCausalLM'],
      hidden_size: 256,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 18,
      vocab_size: 22,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
    },
  },
];

describe('Turbomind layout matches an independent torch implementation', () => {
  CASES.forEach((c, n) => {
    it(c.name, async () => {
      const dir = join(work, String(n));
      execFileSync(PY, [REF, dir, JSON.stringify({ ...c, seed: 100 + n })], { stdio: ['ignore', 'ignore', 'inherit'] });
      const hf = join(dir, 'hf');
      const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
      const res = await writeTurbomind(join(dir, 'tm'), readSafetensors(hf), {
        config,
        modelName: 'm',
        tp: c.tp,
        dtype: c.dtype,
      });
      expect(res.info.weightType).toBe(c.weight_type);
      expect(res.unused).toEqual(['model.rotary_emb.inv_freq']);
      const weights = join(dir, 'tm', 'triton_models', 'weights');
      const expected = readdirSync(join(dir, 'expected')).sort();
      expect(
        readdirSync(weights)
          .filter((f) => f !== 'config.yaml')
          .sort(),
      ).toEqual(expected);
      const differ = expected.filter(
        (f) => !readFileSync(join(weights, f)).equals(readFileSync(join(dir, 'expected', f))),
      );
      expect(differ).toEqual([]);
    });
  });
});
