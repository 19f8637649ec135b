import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pthToHf } from '@weft/convert';
import { train } from '../src/train.ts';
import { type StepMetrics } from '../src/plot.ts';
import { type TrainConfig } from '../src/config.ts';
import { runPython } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const SAMPLE = new URL('../../../data/sample/tokenized', import.meta.url).pathname;

/** The tiny demo model on the shipped tokenized sample, cut down to seconds. */
function tinyConfig(workDir: string): TrainConfig {
  return {
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
        rope_theta: 1e6,
        tie_word_embeddings: true,
      },
    },
    maxLength: 64,
    packToMaxLength: true,
    useVarlenAttn: true,
    packSampleIntoOne: false,
    dataset: { kind: 'internlm', path: SAMPLE },
    packedLength: 64,
    seed: 1024,
    microBatchSize: 1,
    accumulativeCounts: 2,
    lr: 1e-2,
    betas: [0.9, 0.95],
    weightDecay: 0.01,
    warmupRatio: 0,
    etaMin: 3e-4,
    maxNorm: 1,
    totalSteps: 4,
    checkpointEvery: 2,
    maxKeepCkpts: 2,
    saveOptimizer: true,
    workDir,
    validation: { dataset: { kind: 'internlm', path: SAMPLE }, validEvery: 2, validMicroNum: 1 },
  };
}

const quiet = { nprocPerNode: 2, log: () => {} };
const steps = (rows: StepMetrics[]): StepMetrics[] => rows.filter((r) => r.loss !== undefined);

describe('weft train (2 gloo workers, tiny model, shipped sample data)', () => {
  it('loss falls; a run killed after step 2 and resumed sees the same batches and losses', async () => {
    const root = tempDir('weft-train-');
    const whole = steps((await train(tinyConfig(join(root, 'whole')), quiet)).rows);
    expect(whole.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(whole[3]!.loss).toBeLessThan(whole[0]!.loss - 0.5);
    expect(whole[0]!.loss).toBeGreaterThan(Math.log(151669) - 0.5); // starts near uniform over the vocabulary

    const crashed = join(root, 'crashed');
    await expect(train(tinyConfig(crashed), { ...quiet, env: { WEFT_DEBUG_CRASH_AFTER_STEP: '2' } })).rejects.toThrow(
      /worker rank 1 exited with code 3; the run was stopped/,
    );
    expect(readFileSync(join(crashed, 'last_checkpoint'), 'utf8').trim()).toBe('iter_2.pth');
    const resumed = steps((await train(tinyConfig(crashed), { ...quiet, resume: 'auto' })).rows);

    expect(resumed.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect(resumed.map((r) => r.batch_digest)).toEqual(whole.map((r) => r.batch_digest));
    expect(resumed.map((r) => r.num_consumed_tokens)).toEqual(whole.map((r) => r.num_consumed_tokens));
    resumed.forEach((r, i) => {
      expect(r.loss).toBeCloseTo(whole[i]!.loss, 4);
      expect(r.lr).toBeCloseTo(whole[i]!.lr, 12);
    });

    // Outputs: max_keep_ckpts, a torch.save state dict in HF keys, TensorBoard events, the picture.
    expect(
      readdirSync(crashed)
        .filter((f) => f.endsWith('.pth'))
        .sort(),
    ).toEqual(['iter_2.pth', 'iter_4.pth']);
    const keys = JSON.parse(
      runPython([
        '-c',
        `import torch, json, sys; print(json.dumps(sorted(torch.load(sys.argv[1]).keys())))`,
        join(crashed, 'iter_4.pth'),
      ]),
    ) as string[];
    expect(keys).toContain('model.embed_tokens.weight');
    expect(keys).toContain('model.layers.1.self_attn.q_proj.weight');
    // iter_N.pth -> `weft convert pth-to-hf` -> an HF folder the worker loads back to the same weights.
    const base = join(root, 'base');
    mkdirSync(base);
    writeFileSync(join(base, 'config.json'), JSON.stringify(tinyConfig('').model.config));
    await pthToHf({ base, pth: join(crashed, 'iter_4.pth'), out: join(root, 'hf') });
    const same = runPython([
      '-c',
      `import sys, torch
from weft_worker.model import ModelConfig, from_hf
from weft_worker.safetensors_io import load_folder
c = ModelConfig.from_folder(sys.argv[1]); a = from_hf(load_folder(sys.argv[1]), c); b = from_hf(torch.load(sys.argv[2]), c)
print(sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a))`,
      join(root, 'hf'),
      join(crashed, 'iter_4.pth'),
    ]);
    expect(same.trim()).toBe('True');
    const state = JSON.parse(readFileSync(join(crashed, 'iter_4.state', 'trainer_state.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(state).toMatchObject({ step: 4, world_size: 2, has_optimizer: true, cursor: { epoch: 0, consumed: 16 } });
    expect(readdirSync(join(crashed, 'logs')).some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
    expect(readFileSync(join(crashed, 'run.html'), 'utf8')).toContain('<svg');
    // Validation on the same fixed packs at steps 2 and 4: the loss falls there too.
    const valid = readFileSync(join(crashed, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('valid_loss'))
      .map((l) => JSON.parse(l) as { step: number; valid_loss: number });
    expect(valid.map((v) => v.step)).toEqual([2, 4]);
    expect(valid[1]!.valid_loss).toBeLessThan(valid[0]!.valid_loss);
  }, 400_000); // three short runs of two ranks: about a minute on an idle 2-core box

  it('refuses to resume from a weights-only checkpoint, saying why', async () => {
    const dir = tempDir('weft-train-');
    mkdirSync(join(dir, 'iter_2.state'));
    writeFileSync(join(dir, 'iter_2.pth'), '');
    writeFileSync(
      join(dir, 'iter_2.state', 'trainer_state.json'),
      JSON.stringify({ step: 2, world_size: 2, has_optimizer: false, cursor: { epoch: 0, consumed: 8 } }),
    );
    writeFileSync(join(dir, 'last_checkpoint'), 'iter_2.pth\n');
    await expect(train(tinyConfig(dir), { ...quiet, resume: 'auto' })).rejects.toThrow(
      /weights only\), so it cannot be resumed/,
    );
    expect(existsSync(join(dir, 'metrics.jsonl'))).toBe(false); // refused before anything started
  });

  it('shard: fsdp2 on a PyTorch without fully_shard stops before any worker starts, saying what to do', async () => {
    const dir = tempDir('weft-train-');
    const torch = runPython(['-c', 'import torch; print(torch.__version__)']).trim();
    const [major, minor] = torch.split('.').map(Number) as [number, number];
    const run = train({ ...tinyConfig(dir), shard: 'fsdp2', totalSteps: 1 }, quiet);
    if (major > 2 || (major === 2 && minor >= 4)) return void (await run); // a PyTorch with FSDP2: it just trains
    await expect(run).rejects.toThrow(
      /shard: 'fsdp2' needs PyTorch >= 2\.4 \(fully_shard\).*use shard 'ddp' or 'auto'/,
    );
    expect(existsSync(join(dir, 'metrics.jsonl'))).toBe(false);
  });

  it('another rank count: refused for a .pth checkpoint; for a sharded iter_N.dcp only the global batch must match', async () => {
    const state = { step: 2, world_size: 2, has_optimizer: true, cursor: { epoch: 0, consumed: 8 } };
    const dir = tempDir('weft-train-');
    mkdirSync(join(dir, 'iter_2.state'));
    writeFileSync(join(dir, 'iter_2.pth'), '');
    writeFileSync(join(dir, 'iter_2.state', 'trainer_state.json'), JSON.stringify(state));
    writeFileSync(join(dir, 'last_checkpoint'), 'iter_2.pth\n');
    await expect(train(tinyConfig(dir), { ...quiet, nprocPerNode: 1, resume: 'auto' })).rejects.toThrow(
      /saved by 2 ranks, this launch has 1; exact resume needs the same world size \(only sharded FSDP2 checkpoints/,
    );
    const sharded = tempDir('weft-train-');
    mkdirSync(join(sharded, 'iter_2.state'));
    mkdirSync(join(sharded, 'iter_2.dcp'));
    writeFileSync(join(sharded, 'iter_2.dcp', '.metadata'), '');
    writeFileSync(join(sharded, 'iter_2.state', 'trainer_state.json'), JSON.stringify({ ...state, format: 'dcp' }));
    writeFileSync(join(sharded, 'last_checkpoint'), 'iter_2.dcp\n');
    // 1 rank x 2 micro batches is half the global batch of 2 ranks x 2: the cursor cannot line up
    await expect(train(tinyConfig(sharded), { ...quiet, nprocPerNode: 1, resume: 'auto' })).rejects.toThrow(
      /on 1 ranks instead of 2, keep microBatchSize × accumulativeCounts × ranks the same/,
    );
    expect(existsSync(join(sharded, 'metrics.jsonl'))).toBe(false);
  });
});
