// InternLM-7B full training on an intern-repo tokenized folder, 8k packs (xtuner config).
//
// InternLM-7B full training on an InternLM-tokenized repository dataset (a folder of .bin +
// .bin.meta under data/, in data_order.txt order): xtuner's internlm_7b_full_intern_repo_dataset_template.
// 8k packs; 8 x 80 GB GPUs.
import type { TrainConfig } from '@weft/trainer';

export default {
  model: { path: 'internlm/internlm-7b' },
  maxLength: 8192,
  packToMaxLength: true,
  useVarlenAttn: true,
  packSampleIntoOne: false,
  dataset: { kind: 'internlm', path: 'data/intern_repo' },
  dataOrderPath: 'data/intern_repo/data_order.txt',
  packedLength: 8192,
  seed: 1024,
  microBatchSize: 1,
  accumulativeCounts: 4,
  lr: 4e-5,
  betas: [0.9, 0.95],
  weightDecay: 0.01,
  warmupRatio: 0.025,
  etaMin: 0,
  maxNorm: 1,
  epochs: 1,
  checkpointEvery: 500,
  maxKeepCkpts: 1,
  saveOptimizer: true,
  workDir: 'work_dirs/internlm_7b_full_intern_repo_dataset_template',
  compile: true,
} satisfies TrainConfig;
