/** What a training run reads: one of these, resolved to random-access packs by `openDataset`. */
export type DatasetSpec =
  /** A folder of InternLM-tokenized `.bin` + `.bin.meta` files (what `weft tokenize` or InternLM's tokenizer.py write), packed
   * xtuner-style (length-seeded, per file, in data order). */
  | { kind: 'internlm'; path: string }
  /** A packed Arrow datasets folder (what `weft pack` / `weft process --pack` write): one row per pack. */
  | { kind: 'packed'; path: string }
  /** Raw text/chat data: tokenized and packed on the fly (needs `@weft/tokenize`; see README). */
  | { kind: 'untokenized'; path: string; format: string; template?: string; tokenizer: string }
  /** Deterministic synthetic documents with learnable structure: demos, tests, benchmarks. */
  | { kind: 'synthetic'; numPacks: number; vocabSize: number; meanDocLength: number; seed?: number }
  /** Any pack source you write yourself (an `AsyncIterable<Pack>` is collected into memory). */
  | { kind: 'packs'; load: () => unknown };

/**
 * A training run, as a plain typed object. Fields carry the seeds' names (xtuner/InternLM),
 * camel-cased; each comment says what the knob trades.
 */
export interface TrainConfig {
  /** HF model: `path` = folder with config.json + *.safetensors; or `config` = a config.json
   * object for a randomly initialised model (from-scratch pretraining, tests, benchmarks). */
  model: { path?: string; config?: Record<string, unknown> };
  /** Tokens kept per sample before packing (longer samples are cut). Larger: fewer truncations. */
  maxLength: number;
  /** Pack samples into fixed-length sequences. false is not supported by the trainer yet. */
  packToMaxLength: boolean;
  /** Attend within each document of a pack (varlen attention). false: across the whole pack. */
  useVarlenAttn: boolean;
  /** InternLM's switch: one sequence per pack, ignoring document boundaries (faster kernels,
   * cross-document attention). Overrides `useVarlenAttn`. */
  packSampleIntoOne: boolean;
  /** Training data. */
  dataset: DatasetSpec;
  /** xtuner's data_order.txt (file order of an InternLM folder); empty: sorted discovery. */
  dataOrderPath?: string;
  /** Tokens per pack (sequence length). Larger: better GPU use, more memory. */
  packedLength: number;
  /** Seed of the epoch shuffle and of random init (xtuner pins 1024 for alignment). */
  seed: number;
  /** Packs per forward pass per rank. Larger: faster, more memory. */
  microBatchSize: number;
  /** Micro batches per optimizer step (gradient accumulation). Larger: bigger effective batch, fewer updates. */
  accumulativeCounts: number;
  /** Peak learning rate. */
  lr: number;
  /** AdamW betas. */
  betas: [number, number];
  /** AdamW decoupled weight decay. */
  weightDecay: number;
  /** Share of the steps spent warming the lr up linearly from 0. */
  warmupRatio: number;
  /** Floor of the cosine decay. */
  etaMin: number;
  /** Gradient clipping by global norm (0: off). Lower: steadier, slower to move. */
  maxNorm: number;
  /** Optimizer steps; or give `epochs` and the steps follow from the data size. */
  totalSteps?: number;
  /** Passes over the data (used when `totalSteps` is absent). */
  epochs?: number;
  /** Save every N steps (and at the end; 0: only at the end). Smaller: less lost on a crash, more disk/time. */
  checkpointEvery: number;
  /** Keep only the newest N checkpoints (0: all). */
  maxKeepCkpts: number;
  /** Save the optimizer too. false: weights only (half the disk), and the run cannot be resumed. */
  saveOptimizer: boolean;
  /** Where checkpoints, logs (JSONL, TensorBoard) and the run picture go. */
  workDir: string;
  /**
   * Ranks on this machine when neither `--nproc-per-node` nor NPROC_PER_NODE says (default: one
   * per GPU, else 1). On CPU each rank is a gloo process: more ranks split the packs, each gets fewer threads.
   */
  nprocPerNode?: number;
  /** Validation: loss and perplexity on `validMicroNum` micro batches every `validEvery` steps. */
  validation?: { dataset: DatasetSpec; validEvery: number; validMicroNum: number };
  /** Attention kernel: auto picks varlen (GPU) / math (CPU). */
  attnImpl?: 'auto' | 'varlen' | 'flex' | 'math';
  /** torch.compile each decoder block (GPU, PyTorch 2): faster steps, a slower first step. */
  compile?: boolean;
  /**
   * One GPU: 'auto' keeps bf16 parameters with fp32 master weights in the optimizer (faster);
   * 'autocast' keeps fp32 parameters under bf16 autocast (more memory, slower). Several ranks use FSDP2's own policy.
   */
  precision?: 'auto' | 'autocast';
  /** Cross-entropy over this many tokens at a time (0: all at once). Larger vocabularies: less peak memory. */
  ceChunk?: number;
}

/** Typed identity for config files: `export default defineConfig({ ... })`. */
export function defineConfig(c: TrainConfig): TrainConfig {
  return c;
}

/**
 * Check a config up front (before any worker starts) and name the bad field.
 *
 * @example
 * validateConfig(await loadConfig('train.config.ts'));
 */
export function validateConfig(c: TrainConfig): TrainConfig {
  const bad = (field: string, why: string): never => {
    throw new Error(`config: ${field} ${why}`);
  };
  if (!c.model || (!c.model.path && !c.model.config)) bad('model', 'needs `path` (HF folder) or `config` (config.json object)');
  for (const k of ['maxLength', 'packedLength', 'microBatchSize', 'accumulativeCounts'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(k, `must be a positive integer, got ${c[k]}`);
  }
  if (!c.packToMaxLength) bad('packToMaxLength', 'false is not supported: the trainer trains on packs');
  if (!(c.lr > 0)) bad('lr', `must be > 0, got ${c.lr}`);
  if (!(c.etaMin >= 0 && c.etaMin <= c.lr)) bad('etaMin', `must be in [0, lr], got ${c.etaMin}`);
  if (!(c.warmupRatio >= 0 && c.warmupRatio < 1)) bad('warmupRatio', `must be in [0, 1), got ${c.warmupRatio}`);
  if (!Array.isArray(c.betas) || c.betas.length !== 2) bad('betas', 'must be [beta1, beta2]');
  if (c.totalSteps === undefined && c.epochs === undefined) bad('totalSteps', 'or `epochs` must be given');
  if (c.totalSteps !== undefined && (!Number.isInteger(c.totalSteps) || c.totalSteps <= 0)) bad('totalSteps', `must be a positive integer, got ${c.totalSteps}`);
  if (!Number.isInteger(c.checkpointEvery) || c.checkpointEvery < 0) bad('checkpointEvery', 'must be an integer >= 0');
  if (!c.workDir) bad('workDir', 'is required');
  if (c.validation && (!(c.validation.validEvery > 0) || !(c.validation.validMicroNum > 0))) bad('validation', 'needs validEvery > 0 and validMicroNum > 0');
  if (c.precision !== undefined && c.precision !== 'auto' && c.precision !== 'autocast') bad('precision', `must be 'auto' or 'autocast', got ${String(c.precision)}`);
  if (c.nprocPerNode !== undefined && (!Number.isInteger(c.nprocPerNode) || c.nprocPerNode < 1)) bad('nprocPerNode', `must be an integer >= 1, got ${c.nprocPerNode}`);
  if (c.ceChunk !== undefined && (!Number.isInteger(c.ceChunk) || c.ceChunk < 0)) bad('ceChunk', `must be an integer >= 0, got ${c.ceChunk}`);
  return c;
}

/** Load a config file (TypeScript or JavaScript module with a default export) by dynamic import. */
export async function loadConfig(file: string): Promise<TrainConfig> {
  const { pathToFileURL } = await import('node:url');
  const { resolve } = await import('node:path');
  const url = pathToFileURL(resolve(file)).href;
  // tsx's own import: a .ts config outside any `"type": "module"` package still loads as ESM.
  const mod = (/\.[cm]?ts$/.test(file) ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url) : await import(url)) as
    { default?: TrainConfig & { default?: TrainConfig }; config?: TrainConfig };
  const c = mod.default?.default ?? mod.default ?? mod.config;
  if (!c) throw new Error(`${file}: no default export (write \`export default { ... } satisfies TrainConfig\`)`);
  return validateConfig(c);
}
