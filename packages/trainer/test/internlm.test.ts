import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pthToHf } from '@weft/convert';
import { train, type TrainConfig } from '@weft/trainer';
import { copyConfig } from '../src/named-configs.ts';
import { loadConfig } from '../src/config.ts';
import type { StepMetrics } from '../src/plot.ts';
import { runPython, shrinkConfig } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const REF = new URL('../../../tools/reference/internlm_ref.py', import.meta.url).pathname;
const NAMED = [
  'internlm_7b_full_intern_repo_dataset_template',
  'internlm2_7b_w_tokenized_dataset',
  'internlm2_7b_w_untokenized_dataset',
  'internlm2_7b_full_finetune_custom_dataset_e1',
];
const quiet = { nprocPerNode: 1, log: () => {} };
const steps = (rows: StepMetrics[]): StepMetrics[] => rows.filter((r) => r.loss !== undefined);

/** A tiny random-init HF folder of `modelType` (config.json + model.safetensors), made by Debian torch. */
function tinyFolder(dir: string, modelType: string): string {
  runPython([REF, 'make', dir, modelType, '3']);
  return dir;
}

/** The model type a named config starts from, by its model id: internlm/internlm2-7b -> internlm2. */
function namedType(c: TrainConfig): string {
  return /internlm2/.test(c.model.path!) ? 'internlm2' : 'internlm';
}

/** The named config on a tiny folder and synthetic packs, 5 steps, a checkpoint at the end. */
const shrink = (c: TrainConfig, model: string, workDir: string): TrainConfig =>
  shrinkConfig(c, model, workDir, { vocabSize: 512, totalSteps: 5, lr: 2e-2, checkpointEvery: 5 });

describe('InternLM models in the trainer (1 CPU rank, tiny random folders)', () => {
  it('each named InternLM config trains on a folder of the type it names; loss falls; pth-to-hf round-trips', async () => {
    const root = tempDir('weft-internlm-');
    const configs = await Promise.all(NAMED.map(async (name) => loadConfig(copyConfig(name, join(root, 'cfg', name)))));
    const types = new Map(NAMED.map((name, i) => [name, namedType(configs[i]!)]));
    // One Python for all four fixtures (and one below for all checks): each start is a torch import.
    runPython([
      '-c',
      `import sys; sys.path.insert(0, sys.argv[1]); import internlm_ref
for d, t in zip(sys.argv[2::2], sys.argv[3::2]): internlm_ref.make_folder(d, t, 3)`,
      join(REF, '..'),
      ...NAMED.flatMap((name) => [join(root, name, 'model'), types.get(name)!]),
    ]);
    await Promise.all(
      NAMED.map(async (name, i) => {
        const model = join(root, name, 'model'),
          work = join(root, name, 'work');
        const rows = steps((await train(shrink(configs[i]!, model, work), quiet)).rows);
        expect(rows.map((r) => r.step)).toEqual([1, 2, 3, 4, 5]);
        expect(rows[4]!.loss).toBeLessThan(rows[0]!.loss - 0.3);
        // The checkpoint -> weft convert pth-to-hf -> an HF folder.
        await pthToHf({ base: model, pth: join(work, 'iter_5.pth'), out: join(root, name, 'hf'), progress: false });
      }),
    );
    // Each HF folder: the checkpoint's tensors, under the fixture's own key names, of the named type.
    const checks = JSON.parse(
      runPython([
        '-c',
        `import sys, json, torch
from weft_worker.safetensors_io import load_folder
out = []
for d in sys.argv[1:]:
    a, b, base = load_folder(d + '/hf'), torch.load(d + '/work/iter_5.pth'), load_folder(d + '/model')
    out.append({'same': sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a),
      'keys_as_base': sorted(a) == sorted(base), 'moved': any(not torch.equal(a[k], base[k]) for k in a),
      'model_type': json.load(open(d + '/hf/config.json'))['model_type']})
print(json.dumps(out))`,
        ...NAMED.map((name) => join(root, name)),
      ]),
    ) as { same: boolean; keys_as_base: boolean; moved: boolean; model_type: string }[];
    NAMED.forEach((name, i) =>
      expect(checks[i], name).toEqual({ same: true, keys_as_base: true, moved: true, model_type: types.get(name) }),
    );
    expect([...types.values()].sort()).toEqual(['internlm', 'internlm2', 'internlm2', 'internlm2']);
    expect(types.get('internlm_7b_full_intern_repo_dataset_template')).toBe('internlm');
    const saved = JSON.parse(readFileSync(join(root, NAMED[0]!, 'model', 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(saved).toMatchObject({ model_type: 'internlm', bias: true, rotary: { type: 'dynamic' } });
  }, 300_000);

  it('fp16 loss scale: grows after growthInterval clean steps, backs off on the hysteresis-th overflow, skipped steps do not stop training', async () => {
    const root = tempDir('weft-fp16-');
    const c = await loadConfig(copyConfig(NAMED[0]!, join(root, 'cfg')));
    const cfg: TrainConfig = {
      ...shrink(c, tinyFolder(join(root, 'model'), 'internlm'), join(root, 'work')),
      totalSteps: 8,
      checkpointEvery: 8,
      dtype: 'fp16',
      gradScaler: {
        initialScale: 1024,
        growthFactor: 2,
        backoffFactor: 0.5,
        growthInterval: 2,
        hysteresis: 2,
        minScale: 512,
        maxScale: 4096,
      },
    };
    // Overflows forced at steps 3 and 4 (an inf gradient), and 6, 7 to hit minScale.
    const rows = steps((await train(cfg, { ...quiet, env: { WEFT_DEBUG_INF_GRAD_STEPS: '3,4,6,7' } })).rows);
    // InternLM's rule by hand: 2 clean steps double the scale; the 2nd overflow halves it (the 1st only
    // skips); the overflow count resets only when the scale grows, so steps 6 and 7 each halve it, and
    // minScale 512 floors the second halving.
    expect(rows.map((r) => r.loss_scale)).toEqual([1024, 1024, 2048, 2048, 1024, 1024, 512, 512]);
    expect(rows.map((r) => r.skipped)).toEqual([false, false, true, true, false, true, true, false]);
    expect(rows.filter((r) => r.skipped).every((r) => r.grad_norm === null)).toBe(true);
    expect(rows[7]!.loss).toBeLessThan(rows[0]!.loss - 0.3);
    const state = JSON.parse(readFileSync(join(root, 'work', 'iter_8.state', 'trainer_state.json'), 'utf8')) as {
      grad_scaler: unknown;
    };
    expect(state.grad_scaler).toEqual({ scale: 512, growth_step: 1, hysteresis_step: 4 });
  }, 120_000);
});
