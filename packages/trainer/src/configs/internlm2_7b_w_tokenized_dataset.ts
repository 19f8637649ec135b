// InternLM2-7B full fine-tune on an InternLM-tokenized folder, 32k packs (xtuner config).
//
// InternLM2-7B full fine-tune on an InternLM-tokenized dataset (.bin + .bin.meta, what
// `weft tokenize` or InternLM's tokenizer.py write), 32k packs with varlen attention: xtuner's
// internlm2_7b_w_tokenized_dataset. Sized for 8 x 80 GB GPUs (FSDP2).
import type { TrainConfig } from '@weft/trainer';

export default {
  model: { path: 'internlm/internlm2-7b' }, // local HF folder: config.json + *.safetensors
  maxLength: 32768,
  packToMaxLength: true,
  useVarlenAttn: true,
  packSampleIntoOne: false,
  dataset: { kind: 'internlm', path: 'data/tokenized' },
  dataOrderPath: 'data/data_order.txt',
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
  workDir: 'work_dirs/internlm2_7b_w_tokenized_dataset',
  compile: true,
} satisfies TrainConfig;
