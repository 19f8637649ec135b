import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDataError, writeFileAtomic } from '@weft/core';
import { validateConfig, workerGradScaler, type TrainConfig } from './config.ts';
import { checkWorkDir } from './work-dir.ts';
import { openDataset } from './dataset.ts';
import { startFeed } from './feed.ts';
import { launchRanks } from './launch.ts';
import { METRICS_PREFIX, MetricsSink } from './metrics.ts';
import type { StepMetrics } from './plot.ts';
import { resolvePython } from './python.ts';
import { cursorAfter, internRepoOrder, stepsForEpochs } from './schedule.ts';
import { topologyFromEnv } from './topology.ts';
import { checkDatasetVocab, modelVocabSize } from './vocab.ts';

export interface TrainOptions {
  /** Ranks on this machine (default: NPROC_PER_NODE, else the config's nprocPerNode, else one per GPU, else 1). */
  nprocPerNode?: number;
  /** A checkpoint (`iter_N.pth`) or 'auto' (the newest in workDir; a fresh start if none). */
  resume?: string;
  /** Python with PyTorch (default: $WEFT_PYTHON, else auto-detected). */
  python?: string;
  /** Extra environment for the workers (tests use WEFT_DEBUG_CRASH_AFTER_STEP, WEFT_DEVICE). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

function datasetName(d: TrainConfig['dataset']): string {
  return 'path' in d ? d.path : `${d.kind} dataset`;
}

interface TrainerState {
  step: number;
  world_size: number;
  has_optimizer: boolean;
  cursor: { epoch: number; consumed: number };
  /** 'dcp': a sharded FSDP2 checkpoint (iter_N.dcp/), which resumes on any number of ranks. */
  format?: string;
}

/** Find and check the checkpoint to resume from; undefined = start fresh. */
function resumePoint(resume: string | undefined, workDir: string): { pth: string; state: TrainerState } | undefined {
  if (!resume) return undefined;
  let pth = resume;
  if (resume === 'auto') {
    const pointer = join(workDir, 'last_checkpoint');
    if (!existsSync(pointer)) return undefined;
    pth = join(workDir, readFileSync(pointer, 'utf8').trim());
  }
  const stateFile = `${pth.replace(/\/+$/, '').replace(/\.(pth|dcp)$/, '')}.state/trainer_state.json`;
  if (!existsSync(pth)) throw new Error(`--resume ${pth}: no such checkpoint`);
  if (!existsSync(stateFile))
    throw new Error(`--resume ${pth}: ${stateFile} is missing, so this is not a weft training checkpoint`);
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerState;
  if (!state.has_optimizer) {
    throw new Error(
      `--resume ${pth}: saved with saveOptimizer: false (weights only), so it cannot be resumed exactly. Start a new run with model.path pointing at a converted copy (weft convert pth-to-hf), or resume from a full checkpoint.`,
    );
  }
  return { pth, state };
}

/**
 * The training recipe: set up data, set up workers, loop (in the workers), checkpoint.
 * Resolves when the run has finished; rejects with a clear message if a worker dies.
 *
 * @example
 * await train(await loadConfig('demo.config.ts'), { nprocPerNode: 2 });
 */
export async function train(
  config: TrainConfig,
  o: TrainOptions = {},
): Promise<{ steps: number; workDir: string; rows: StepMetrics[] }> {
  const c = validateConfig(config);
  checkWorkDir(c); // before anything starts
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const workDir = resolve(c.workDir);
  mkdirSync(workDir, { recursive: true });

  // Data: packs by index, and the sampler that fixes every rank's share and order.
  const py = resolvePython(o.python);
  // FSDP2 (fully_shard) arrived in PyTorch 2.4; say so before any worker starts
  const [major = 0, minor = 0] = py.torch.split(/[.+]/).map((x) => parseInt(x, 10));
  if (c.shard === 'fsdp2' && (major < 2 || (major === 2 && minor < 4))) {
    throw new Error(
      `shard: 'fsdp2' needs PyTorch >= 2.4 (fully_shard), and ${py.python} has torch ${py.torch}: use shard 'ddp' or 'auto', or --python for a newer PyTorch`,
    );
  }
  const topo = topologyFromEnv(process.env, o.nprocPerNode, c.nprocPerNode ?? (py.cudaDevices || 1));
  const packOpts = {
    packedLength: c.packedLength,
    seed: c.seed,
    maxLength: c.maxLength,
    dataOrderPath: c.dataOrderPath,
    cacheDir: join(workDir, 'tokenized'),
  };
  const data = await openDataset(c.dataset, packOpts);
  const valid = c.validation ? await openDataset(c.validation.dataset, packOpts) : undefined;
  // Before step 1: a token id beyond the model's vocabulary is a data error named by file and line here,
  // not an embedding crash in PyTorch later.
  const vocabSize = modelVocabSize(c.model);
  if (vocabSize !== undefined) {
    await checkDatasetVocab(data, vocabSize, datasetName(c.dataset));
    if (valid && c.validation) await checkDatasetVocab(valid, vocabSize, datasetName(c.validation.dataset));
  }
  const order = internRepoOrder(data.length, topo.worldSize, c.seed);
  const perStep = c.microBatchSize * c.accumulativeCounts;
  const totalSteps = c.totalSteps ?? stepsForEpochs(order, c.epochs!, perStep);
  if (totalSteps < 1)
    throw new Error(
      `${data.length} packs over ${topo.worldSize} ranks give no full step of ${perStep} packs per rank: lower microBatchSize/accumulativeCounts or add data`,
    );

  const from = resumePoint(o.resume, workDir);
  const startStep = from?.state.step ?? 0;
  // A sharded (DCP) checkpoint reshards on load, so it resumes on another rank count; the
  // sampler's global order does not depend on the rank count, so the cursor check below then
  // holds exactly when the global batch (microBatchSize × accumulativeCounts × ranks) is unchanged.
  if (from && from.state.world_size !== topo.worldSize && from.state.format !== 'dcp') {
    throw new Error(
      `--resume ${from.pth}: saved by ${from.state.world_size} ranks, this launch has ${topo.worldSize}; exact resume needs the same world size (only sharded FSDP2 checkpoints, iter_N.dcp, resume on another)`,
    );
  }
  const cursor = cursorAfter(order, startStep * perStep);
  if (from && (from.state.cursor.epoch !== cursor.epoch || from.state.cursor.consumed !== cursor.consumed)) {
    throw new Error(
      `--resume ${from.pth}: its sampler cursor ${JSON.stringify(from.state.cursor)} does not match this data (${JSON.stringify(cursor)}): the dataset or batch settings changed` +
        (from.state.world_size !== topo.worldSize
          ? ` (on ${topo.worldSize} ranks instead of ${from.state.world_size}, keep microBatchSize × accumulativeCounts × ranks the same)`
          : ''),
    );
  }
  log(
    `weft train: ${data.length} packs of ${c.packedLength} tokens, ${topo.worldSize} rank(s) (${topo.nnodes} node(s)), ` +
      `${totalSteps} steps, ${py.python} (torch ${py.torch})${from ? `, resuming at step ${startStep} from ${from.pth}` : ''}`,
  );

  const workerConfig = join(workDir, 'worker_config.json');
  await writeFileAtomic(
    workerConfig,
    JSON.stringify(
      {
        model: c.model,
        seed: c.seed,
        micro_batch_size: c.microBatchSize,
        accumulative_counts: c.accumulativeCounts,
        lr: c.lr,
        betas: c.betas,
        weight_decay: c.weightDecay,
        warmup_ratio: c.warmupRatio,
        eta_min: c.etaMin,
        max_norm: c.maxNorm,
        total_steps: totalSteps,
        checkpoint_every: c.checkpointEvery,
        max_keep_ckpts: c.maxKeepCkpts,
        save_optimizer: c.saveOptimizer,
        work_dir: workDir,
        pack_sample_into_one: c.packSampleIntoOne || !c.useVarlenAttn,
        attn_impl: c.attnImpl ?? 'auto',
        compile: c.compile ?? false,
        precision: c.precision ?? 'auto',
        ce_chunk: c.ceChunk ?? 0,
        dtype: c.dtype ?? 'bf16',
        grad_scaler: workerGradScaler(c.gradScaler),
        shard: c.shard ?? 'auto',
        dataset_length: data.length,
        valid_every: c.validation?.validEvery ?? 0,
        valid_micro_num: c.validation?.validMicroNum ?? 0,
      },
      null,
      1,
    ),
  );

  // Feed: this node's ranks pull their packs over a unix socket.
  let feedError: Error | undefined;
  let run: Awaited<ReturnType<typeof launchRanks>> | undefined;
  const feed = await startFeed(
    join(tmpdir(), `weft-feed-${process.pid}-${Date.now()}.sock`),
    {
      train: { data, order, from: cursor, samplesPerRank: (totalSteps - startStep) * perStep },
      valid:
        valid && c.validation
          ? { data: valid, samplesPerRank: c.validation.validMicroNum * c.microBatchSize }
          : undefined,
      ranks: { first: topo.nodeRank * topo.nprocPerNode, count: topo.nprocPerNode },
      worldSize: topo.worldSize,
    },
    (e) => {
      feedError ??= e;
      run?.stop('feed error');
    },
  );

  // Rank 0 lives on node 0: only that node writes metrics (other nodes must not truncate a shared file).
  const sink = topo.nodeRank === 0 ? await MetricsSink.open(workDir, { resumeStep: startStep, log }) : undefined;
  let lastStep = startStep;
  const onLine = (rank: number, line: string, stream: 'stdout' | 'stderr'): void => {
    if (feedError && stream === 'stderr') return; // the workers' complaints about the closed feed: the feed's error says it
    if (rank === 0 && line.startsWith(METRICS_PREFIX)) {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line.slice(METRICS_PREFIX.length)) as Record<string, unknown>;
      } catch {
        process.stderr.write(`[rank 0] unreadable metrics line: ${line}\n`);
        return;
      }
      if (m.event === undefined) {
        sink?.step(m as unknown as StepMetrics);
        lastStep = m.step as number;
      } else if (m.event === 'valid') sink?.valid(m.step as number, m.valid_loss as number);
      else if (m.event === 'checkpoint') {
        log(`checkpoint: ${m.path as string}`);
        sink?.flushPicture();
      } else if (m.event === 'start')
        log(
          `workers up: ${m.mode as string} on ${m.device as string}, attention ${m.attn as string}, ${m.params as number} non-embedding params`,
        );
      return;
    }
    (stream === 'stderr' ? process.stderr : process.stdout).write(`[rank ${rank}] ${line}\n`);
  };
  const onSigint = (): void => run?.stop('Ctrl-C');
  process.on('SIGINT', onSigint);
  try {
    const args = ['--config', workerConfig, ...(from ? ['--resume', from.pth] : [])];
    const env: Record<string, string> = { WEFT_FEED: feed.address, ...(o.env ?? {}) };
    run = await launchRanks({ python: py.python, topology: topo, args, env, onLine, echoesOutput: true });
    try {
      await run.done;
    } catch (e) {
      if (feedError && isDataError(feedError)) throw feedError;
      if (feedError) throw new Error(`the feed failed: ${feedError.message}`);
      throw e;
    }
  } finally {
    process.off('SIGINT', onSigint);
    sink?.flushPicture();
    sink?.close();
    await feed.close();
    await data.close?.();
    await valid?.close?.();
  }
  if (!sink) {
    log(`done: node ${topo.nodeRank}'s ranks finished (node 0 writes the metrics and checkpoints)`);
    return { steps: lastStep, workDir, rows: [] };
  }
  log(
    `done: ${lastStep} steps; metrics in ${join(workDir, 'metrics.jsonl')}, picture in ${join(workDir, 'run.html')}, TensorBoard: tensorboard --logdir ${join(workDir, 'logs')}`,
  );
  return { steps: lastStep, workDir, rows: sink?.rows ?? [] };
}
