// Train a tiny, randomly initialised Llama (model/config.json: 2 layers, hidden 64, the default
// tokenizer's vocabulary) on the packs the `process` target wrote, for a few CPU steps. The nx
// `train` target runs it after `process`; `convert` then turns the last checkpoint into a
// Hugging Face folder with model/config.json. Paths are relative to the workspace root, where nx
// runs the command.
import { readFileSync } from 'node:fs';
import { defineConfig } from '@weft/trainer';

// The process target's packed Arrow dataset (one row per pack), read by row.
const PACKED = 'pipelines/demo/out/process/packed';

export default defineConfig({
  model: { config: JSON.parse(readFileSync('pipelines/demo/model/config.json', 'utf8')) as Record<string, unknown> },
  maxLength: 2048,
  packToMaxLength: true,
  useVarlenAttn: true,
  packSampleIntoOne: false,
  dataset: { kind: 'packed', path: PACKED },
  packedLength: 2048,
  seed: 1024,
  microBatchSize: 1,
  accumulativeCounts: 1,
  lr: 3e-3,
  betas: [0.9, 0.95],
  weightDecay: 0.01,
  warmupRatio: 0.1,
  etaMin: 3e-4,
  maxNorm: 1,
  totalSteps: 4,
  checkpointEvery: 4,
  maxKeepCkpts: 1,
  saveOptimizer: false,
  workDir: 'pipelines/demo/out/train',
});
