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
  /**
   * How the model spreads over ranks. 'fsdp2': each rank holds a shard of the weights, gradients
   * and optimizer (least memory; sharded checkpoints iter_N.dcp/ that resume on any rank count);
   * 'ddp': every rank holds everything (plain .pth checkpoints); 'none': one rank. 'auto': fsdp2
   * for several ranks on PyTorch >= 2.4, else ddp (PyTorch 1.13 has no fully_shard).
   */
  shard?: 'auto' | 'fsdp2' | 'ddp' | 'none';
  /** Cross-entropy over this many tokens at a time (0: all at once). Larger vocabularies: less peak memory. */
  ceChunk?: number;
  /**
   * GPU compute dtype (InternLM's `model.dtype`): 'bf16' (default) or 'fp16' with a dynamic loss scale
   * (`gradScaler`). fp16 suits GPUs without bf16 (V100, T4); bf16 needs no scale and never skips a step.
   * On CPU the compute stays fp32; fp16 there runs the loss-scale logic only.
   */
  dtype?: 'bf16' | 'fp16';
  /** fp16's dynamic loss scale (InternLM's `grad_scaler`); defaults in {@link GradScalerConfig}. */
  gradScaler?: GradScalerConfig;
}

/** InternLM's `grad_scaler` fields, camel-cased. An overflow (inf/nan gradient) skips the step. */
export interface GradScalerConfig {
  /** Starting scale (default 2**16). */
  initialScale?: number;
  /** Scale multiplier after `growthInterval` clean steps in a row (default 2). */
  growthFactor?: number;
  /** Scale multiplier once `hysteresis` overflows have been seen (default 0.5). */
  backoffFactor?: number;
  /** Clean steps before the scale grows (default 1000). Smaller: finds a high scale sooner, overflows more. */
  growthInterval?: number;
  /** Overflows tolerated (each skipping its step) before the scale backs off (default 2). */
  hysteresis?: number;
  /** Floor of the scale (default 1). */
  minScale?: number;
  /** Ceiling of the scale (default 2**24). */
  maxScale?: number;
}

/** The worker's `grad_scaler` dict (InternLM's snake_case names). */
export function workerGradScaler(g: GradScalerConfig = {}): Record<string, number> {
  const out: Record<string, number> = {};
  const names: [keyof GradScalerConfig, string][] = [
    ['initialScale', 'initial_scale'],
    ['growthFactor', 'growth_factor'],
    ['backoffFactor', 'backoff_factor'],
    ['growthInterval', 'growth_interval'],
    ['hysteresis', 'hysteresis'],
    ['minScale', 'min_scale'],
    ['maxScale', 'max_scale'],
  ];
  for (const [ours, theirs] of names) if (g[ours] !== undefined) out[theirs] = g[ours]!;
  return out;
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
  if (!c.model || (!c.model.path && !c.model.config))
    bad('model', 'needs `path` (HF folder) or `config` (config.json object)');
  for (const k of ['maxLength', 'packedLength', 'microBatchSize', 'accumulativeCounts'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(k, `must be a positive integer, got ${c[k]}`);
  }
  if (!c.packToMaxLength) bad('packToMaxLength', 'false is not supported: the trainer trains on packs');
  if (!(c.lr > 0)) bad('lr', `must be > 0, got ${c.lr}`);
  if (!(c.etaMin >= 0 && c.etaMin <= c.lr)) bad('etaMin', `must be in [0, lr], got ${c.etaMin}`);
  if (!(c.warmupRatio >= 0 && c.warmupRatio < 1)) bad('warmupRatio', `must be in [0, 1), got ${c.warmupRatio}`);
  if (!Array.isArray(c.betas) || c.betas.length !== 2) bad('betas', 'must be [beta1, beta2]');
  if (c.totalSteps === undefined && c.epochs === undefined) bad('totalSteps', 'or `epochs` must be given');
  if (c.totalSteps !== undefined && (!Number.isInteger(c.totalSteps) || c.totalSteps <= 0))
    bad('totalSteps', `must be a positive integer, got ${c.totalSteps}`);
  if (!Number.isInteger(c.checkpointEvery) || c.checkpointEvery < 0) bad('checkpointEvery', 'must be an integer >= 0');
  if (!c.workDir) bad('workDir', 'is required');
  if (c.validation && (!(c.validation.validEvery > 0) || !(c.validation.validMicroNum > 0)))
    bad('validation', 'needs validEvery > 0 and validMicroNum > 0');
  if (c.precision !== undefined && c.precision !== 'auto' && c.precision !== 'autocast')
    bad('precision', `must be 'auto' or 'autocast', got ${String(c.precision)}`);
  if (c.shard !== undefined && !['auto', 'fsdp2', 'ddp', 'none'].includes(c.shard))
    bad('shard', `must be 'auto', 'fsdp2', 'ddp' or 'none', got ${String(c.shard)}`);
  if (c.nprocPerNode !== undefined && (!Number.isInteger(c.nprocPerNode) || c.nprocPerNode < 1))
    bad('nprocPerNode', `must be an integer >= 1, got ${c.nprocPerNode}`);
  if (c.ceChunk !== undefined && (!Number.isInteger(c.ceChunk) || c.ceChunk < 0))
    bad('ceChunk', `must be an integer >= 0, got ${c.ceChunk}`);
  if (c.dtype !== undefined && c.dtype !== 'bf16' && c.dtype !== 'fp16')
    bad('dtype', `must be 'bf16' or 'fp16', got ${String(c.dtype)}`);
  if (c.gradScaler) {
    const g = c.gradScaler;
    if (c.dtype !== 'fp16') bad('gradScaler', "is only used with dtype: 'fp16'");
    if (g.initialScale !== undefined && !(g.initialScale > 0))
      bad('gradScaler.initialScale', `must be > 0, got ${g.initialScale}`);
    if (g.growthFactor !== undefined && !(g.growthFactor > 1))
      bad('gradScaler.growthFactor', `must be > 1, got ${g.growthFactor}`);
    if (g.backoffFactor !== undefined && !(g.backoffFactor > 0 && g.backoffFactor < 1))
      bad('gradScaler.backoffFactor', `must be in (0, 1), got ${g.backoffFactor}`);
    if (g.growthInterval !== undefined && (!Number.isInteger(g.growthInterval) || g.growthInterval < 1))
      bad('gradScaler.growthInterval', `must be an integer >= 1, got ${g.growthInterval}`);
    if (g.hysteresis !== undefined && (!Number.isInteger(g.hysteresis) || g.hysteresis < 0))
      bad('gradScaler.hysteresis', `must be an integer >= 0, got ${g.hysteresis}`);
  }
  return c;
}

/** Load a config file (TypeScript or JavaScript module with a default export) by dynamic import. */
export async function loadConfig(file: string): Promise<TrainConfig> {
  const { pathToFileURL } = await import('node:url');
  const { resolve } = await import('node:path');
  const url = pathToFileURL(resolve(file)).href;
  // tsx's own import: a .ts config outside any `"type": "module"` package still loads as ESM.
  const mod = (
    /\.[cm]?ts$/.test(file) ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url) : await import(url)
  ) as { default?: TrainConfig & { default?: TrainConfig }; config?: TrainConfig };
  const c = mod.default?.default ?? mod.default ?? mod.config;
  if (!c) throw new Error(`${file}: no default export (write \`export default { ... } satisfies TrainConfig\`)`);
  return validateConfig(c);
}
