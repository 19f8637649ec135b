// InternLM2-7B full fine-tune on raw chat JSONL, tokenized on first run, 32k packs (xtuner config).
//
// InternLM2-7B full fine-tune on raw chat data (openai messages JSONL), tokenized with the
// internlm2_chat template into work_dir/tokenized on the first run, 32k packs, varlen attention: xtuner's
// internlm2_7b_w_untokenized_dataset. Sized for 8 x 80 GB GPUs (FSDP2).
import type { TrainConfig } from '@weft/trainer';

export default {
  model: { path: 'internlm/internlm2-7b' }, // local HF folder: config.json + *.safetensors
  maxLength: 32768,
  packToMaxLength: true,
  useVarlenAttn: true,
  packSampleIntoOne: false,
  dataset: {
    kind: 'untokenized',
    path: 'data/raw',
    format: 'openai',
    template: 'internlm2_chat',
    tokenizer: 'internlm/internlm2-7b',
  },
  packedLength: 32768,
  seed: 1024,
  microBatchSize: 1,
  accumulativeCounts: 1,
  lr: 4e-5,
  betas: [0.9, 0.95],
  weightDecay: 0.01,
  warmupRatio: 0.025,
  etaMin: 0,
  maxNorm: 1,
  epochs: 1,
  checkpointEvery: 500,
  maxKeepCkpts: 2,
  saveOptimizer: true,
  workDir: 'work_dirs/internlm2_7b_w_untokenized_dataset',
  compile: true,
} satisfies TrainConfig;
