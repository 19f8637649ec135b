// InternLM2-7B full fine-tune, 1 epoch on a custom tokenized dataset, 32k packs (xtuner config).
//
// InternLM2-7B full fine-tune, one epoch over a custom dataset tokenized to .bin + .bin.meta (by
// `weft tokenize --format ...`) that the trainer packs to 32k (for the Arrow folder `weft process
// --pack` writes, use dataset: { kind: 'packed', path: '<out>/packed' }): xtuner's internlm2_7b_full_finetune_custom_dataset_e1 (lr 2e-5, warmup 3%).
import type { TrainConfig } from '@weft/trainer';

export default {
  model: { path: 'internlm/internlm2-7b' },
  maxLength: 32768,
  packToMaxLength: true,
  useVarlenAttn: true,
  packSampleIntoOne: false,
  dataset: { kind: 'internlm', path: 'data/custom_tokenized' },
  packedLength: 32768,
  seed: 1024,
  microBatchSize: 1,
  accumulativeCounts: 1,
  lr: 2e-5,
  betas: [0.9, 0.95],
  weightDecay: 0,
  warmupRatio: 0.03,
  etaMin: 0,
  maxNorm: 1,
  epochs: 1,
  checkpointEvery: 1000,
  maxKeepCkpts: 2,
  saveOptimizer: true,
  workDir: 'work_dirs/internlm2_7b_full_finetune_custom_dataset_e1',
  compile: true,
} satisfies TrainConfig;
