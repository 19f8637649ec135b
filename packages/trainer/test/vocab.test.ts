import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDataError } from '@weft/core';
import { encodeEndFrame, encodePackFrame } from '../src/frames.ts';
import { launchRanks } from '../src/launch.ts';
import { train } from '../src/train.ts';
import { type TrainConfig } from '../src/config.ts';
import { TORCH_PYTHON } from './helpers.ts';
import { writeBinFolderWithNumpy } from '../../pack/test/write-bin.ts';

const base = mkdtempSync(join(tmpdir(), 'weft-train-vocab-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const MODEL = {
  model_type: 'llama',
  vocab_size: 1000,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  rms_norm_eps: 1e-6,
  rope_theta: 1e4,
  tie_word_embeddings: true,
};

function config(workDir: string, dataset: TrainConfig['dataset']): TrainConfig {
  return {
    model: { config: MODEL },
    maxLength: 8,
    packToMaxLength: true,
    useVarlenAttn: true,
    packSampleIntoOne: false,
    dataset,
    packedLength: 8,
    seed: 1024,
    microBatchSize: 1,
    accumulativeCounts: 1,
    lr: 1e-3,
    betas: [0.9, 0.95],
    weightDecay: 0,
    warmupRatio: 0,
    etaMin: 0,
    maxNorm: 1,
    totalSteps: 2,
    checkpointEvery: 0,
    maxKeepCkpts: 1,
    saveOptimizer: false,
    workDir,
  };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isDataError(e)).toBe(true);
  return e as Error;
}

describe('token ids beyond the model vocabulary', () => {
  it('weft train names the .bin file and line before step 1 (no worker started)', async () => {
    const bins = join(base, 'bins');
    writeBinFolderWithNumpy(bins, [
      [
        [1, 2, 3, 4, 5],
        [6, 7, 8],
      ],
      [
        [9, 10],
        [11, -1000, 12, 13],
        [14, 15, 16, 17],
      ],
    ]);
    const lines: string[] = [];
    const e = await failure(
      train(config(join(base, 'w1'), { kind: 'internlm', path: bins }), { nprocPerNode: 1, log: (l) => lines.push(l) }),
    );
    expect(e.message).toMatch(
      /001\.bin: line 2 \(byte \d+\): token id 1000 at position 1 is outside the vocabulary \(vocab_size 1000/,
    );
    expect(lines).toEqual([]); // nothing launched
  });

  it('packs from elsewhere are named by dataset and pack index', async () => {
    const packs = Array.from({ length: 3 }, (_, i) => ({
      input_ids: Int32Array.from({ length: 8 }, (_, k) => (i === 2 && k === 5 ? 5000 : k + 1)),
      labels: Int32Array.from({ length: 8 }, () => -100),
      cumulative_len: Int32Array.of(0, 8),
      position_ids: Int32Array.from({ length: 8 }, (_, k) => k),
    }));
    const e = await failure(
      train(config(join(base, 'w2'), { kind: 'packs', load: () => packs }), { nprocPerNode: 1, log: () => {} }),
    );
    expect(e.message).toMatch(
      /packs dataset \(pack 2, input_ids\): token id 5000 at position 5 is outside the vocabulary/,
    );
  });

  it('the worker meets a bad pack: one clean DataError, no traceback, nothing printed twice', async () => {
    // A recorded feed with a token beyond vocab_size in the second pack, bypassing the TypeScript check.
    const pack = (bad: boolean) => ({
      input_ids: Int32Array.from({ length: 8 }, (_, k) => (bad && k === 3 ? 1234 : k + 1)),
      labels: Int32Array.from({ length: 8 }, (_, k) => k + 1),
      cumulative_len: Int32Array.of(0, 8),
      position_ids: Int32Array.from({ length: 8 }, (_, k) => k),
    });
    const feed = join(base, 'feed.bin');
    writeFileSync(
      feed,
      Buffer.concat([
        encodePackFrame(pack(false), { epoch: 0, index: 0 }),
        encodePackFrame(pack(true), { epoch: 0, index: 7 }),
        encodeEndFrame(),
      ]),
    );
    const workDir = join(base, 'w3');
    const cfg = join(base, 'worker_config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        model: { config: MODEL },
        seed: 1,
        micro_batch_size: 1,
        accumulative_counts: 1,
        lr: 1e-3,
        betas: [0.9, 0.95],
        weight_decay: 0,
        warmup_ratio: 0,
        eta_min: 0,
        max_norm: 1,
        total_steps: 2,
        checkpoint_every: 0,
        max_keep_ckpts: 1,
        save_optimizer: false,
        work_dir: workDir,
        pack_sample_into_one: false,
        attn_impl: 'auto',
        compile: false,
        precision: 'auto',
        ce_chunk: 0,
        dataset_length: 2,
        valid_every: 0,
        valid_micro_num: 0,
      }),
    );
    const out: string[] = [];
    const run = await launchRanks({
      python: TORCH_PYTHON,
      topology: { nnodes: 1, nodeRank: 0, nprocPerNode: 1, worldSize: 1, masterAddr: '127.0.0.1' },
      args: ['--config', cfg],
      env: { WEFT_FEED: `file:${feed}`, WEFT_DEVICE: 'cpu' },
      onLine: (_r, l) => out.push(l),
      echoesOutput: true,
    });
    const e = await failure(run.done);
    expect(e.message).toMatch(
      /^worker rank 0: rank 0: pack 7 \(epoch 0\): input_ids\[3\] = 1234 is outside the model vocabulary \(vocab_size 1000\)/,
    );
    expect(out.join('\n')).not.toMatch(/Traceback|IndexError|1234/);
  }, 120_000);
});
