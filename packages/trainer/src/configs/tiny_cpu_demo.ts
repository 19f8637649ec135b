// Tiny CPU demo: 2-layer hidden-64 Llama, Qwen3 vocab, 2 gloo workers, shipped sample data.
//
// A tiny CPU demo: a 2-layer, hidden-64 Llama with the default tokenizer's vocabulary (Qwen3,
// 151669 tokens), trained for a few steps by 2 gloo workers on the shipped tokenized sample
// (data/sample/tokenized, run from the repository root), or on the folder of InternLM .bin files
// WEFT_DEMO_DATA names (e.g. what `weft tokenize --format ... --bin-output-path` wrote; for the Arrow
// folder of `weft process --pack`, use dataset: { kind: 'packed', path: '<out>/packed' }).
import type { TrainConfig } from '@weft/trainer';

const data = process.env.WEFT_DEMO_DATA ?? 'data/sample/tokenized';

export default {
  model: {
    config: {
      model_type: 'llama',
      vocab_size: 151669,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      tie_word_embeddings: true,
    },
  },
  maxLength: 128,
  packToMaxLength: true,
  useVarlenAttn: true,
  packSampleIntoOne: false,
  dataset: { kind: 'internlm', path: data },
  packedLength: 128,
  seed: 1024,
  microBatchSize: 1,
  accumulativeCounts: 2,
  lr: 3e-3,
  betas: [0.9, 0.95],
  weightDecay: 0.01,
  warmupRatio: 0.1,
  etaMin: 3e-4,
  maxNorm: 1,
  totalSteps: 20,
  checkpointEvery: 10,
  maxKeepCkpts: 2,
  saveOptimizer: true,
  workDir: 'work_dirs/tiny_cpu_demo',
  // Two CPU ranks (gloo), as the first line says; --nproc-per-node or NPROC_PER_NODE override it.
  nprocPerNode: 2,
  // Held-in for the demo (the sample is small): the same folder, first packs, no shuffle.
  validation: { dataset: { kind: 'internlm', path: data }, validEvery: 10, validMicroNum: 2 },
} satisfies TrainConfig;
