import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { internlmToHf, pthToHf } from '@weft/convert';
import { train, type TrainConfig } from '@weft/trainer';
import { generate } from '../src/generate.ts';
import { copyConfig } from '../src/named-configs.ts';
import { loadConfig } from '../src/config.ts';
import type { StepMetrics } from '../src/plot.ts';
import { PY_TESTS, runPython, shrinkConfig } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// InternLM's training checkpoints through weft, end to end: model_tp*_pp*.pt folders (made by
// tools/convert/make_internlm_fixtures.py from known full weights) -> weft convert internlm-to-hf ->
// the worker's logits, weft generate, weft train and pth-to-hf, each against the reference forward
// (tools/reference/internlm_ref.py) run on the original weights (check_internlm_converted.py).
const REPO = new URL('../../../', import.meta.url).pathname;
const WEFT = join(REPO, 'packages/cli/bin/weft.mjs');
const SPM = join(REPO, 'packages/tokenize/test/fixtures/spm/bpe.model'); // 1000 pieces: the fixtures' vocabulary
const CASES = [
  {
    name: 'v1_tp2_pp2',
    version: 'internlm',
    config: 'internlm_7b_full_intern_repo_dataset_template',
    template: 'internlm_chat',
  },
  {
    name: 'v2_tp2_pp2_permute_fp16',
    version: 'internlm2',
    config: 'internlm2_7b_w_tokenized_dataset',
    template: 'internlm2_chat',
  },
] as const;
const steps = (rows: StepMetrics[]): StepMetrics[] => rows.filter((r) => r.loss !== undefined);

/** The named config on the converted folder and synthetic packs, 4 steps, checkpointEvery 0 (= only at the end). */
const tiny = (c: TrainConfig, model: string, workDir: string): TrainConfig =>
  shrinkConfig(c, model, workDir, { vocabSize: 1000, totalSteps: 4, lr: 1e-2, checkpointEvery: 0 });

interface Check {
  logits_diff_T1: number;
  logits_diff_T48: number;
  ref_greedy: number[];
  ref_greedy_margin: number;
  worker_roundtrip_equal: boolean;
  trained: {
    equals_pth: boolean;
    keys_as_converted: boolean;
    shapes_as_converted: boolean;
    moved: number;
    dtypes: string[];
    config_as_converted: boolean;
    logits_finite: boolean;
  };
}

describe('InternLM training checkpoints end to end (tp 2 × pp 2, v1 with bias and v2; CPU)', () => {
  it('internlm-to-hf -> worker logits = reference on the original weights; weft generate = reference greedy; train + pth-to-hf round-trips', async () => {
    const root = tempDir('weft-internlm-e2e-');
    const fx = join(root, 'fx');
    runPython([
      join(REPO, 'tools/convert/make_internlm_fixtures.py'),
      fx,
      '--vocab',
      '1000',
      '--cases',
      CASES.map((c) => c.name).join(','),
    ]);

    // Convert: v1 through the CLI (what a user types), v2 through the API.
    const hf = (n: string) => join(root, n, 'hf');
    const cli = spawnSync(
      process.execPath,
      [WEFT, 'convert', 'internlm-to-hf', join(fx, CASES[0].name), hf(CASES[0].name), '--tokenizer', SPM, '--quiet'],
      { encoding: 'utf8' },
    );
    expect(cli.status, cli.stderr).toBe(0);
    await internlmToHf({ ckpt: join(fx, CASES[1].name), out: hf(CASES[1].name), tokenizer: SPM, progress: false });
    // The config.json fields the worker reads, as internlm-to-hf writes them.
    const cfg = CASES.map(
      (c) => JSON.parse(readFileSync(join(hf(c.name), 'config.json'), 'utf8')) as Record<string, unknown>,
    );
    expect(cfg[0]).toMatchObject({
      model_type: 'internlm',
      bias: true,
      rotary: { base: 10000, type: 'origin' },
      rms_norm_eps: 1e-5,
      vocab_size: 1000,
    });
    expect(cfg[1]).toMatchObject({
      model_type: 'internlm2',
      rope_theta: 1000000,
      rope_scaling: { type: 'dynamic', factor: 2 },
      num_key_value_heads: 2,
      max_position_embeddings: 4096,
    });

    // weft generate (greedy) on each converted folder, and a few training steps, all at once.
    const gen = CASES.map(async (c, i) => {
      if (i > 0)
        return generate({
          model: hf(c.name),
          prompt: 'Hello world',
          template: c.template,
          maxNewTokens: 8,
          device: 'cpu',
        });
      const r = spawnSync(
        process.execPath,
        [
          WEFT,
          'generate',
          hf(c.name),
          '--prompt',
          'Hello world',
          '--template',
          c.template,
          '--max-new-tokens',
          '8',
          '--device',
          'cpu',
          '--json',
        ],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { prompt_ids: number[]; ids: number[]; text: string; stopped: string };
      return { promptIds: j.prompt_ids, ids: j.ids, text: j.text, stopped: j.stopped };
    });
    const trained = CASES.map(async (c) => {
      const work = join(root, c.name, 'work');
      const rows = steps(
        (
          await train(tiny(await loadConfig(copyConfig(c.config, join(root, c.name, 'cfg'))), hf(c.name), work), {
            nprocPerNode: 1,
            log: () => {},
          })
        ).rows,
      );
      // checkpointEvery 0: one checkpoint, at the end
      expect(readdirSync(work).filter((f) => /^iter_\d+\.pth$/.test(f))).toEqual(['iter_4.pth']);
      await pthToHf({
        base: hf(c.name),
        pth: join(work, 'iter_4.pth'),
        out: join(root, c.name, 'back'),
        progress: false,
      });
      return rows;
    });
    const [gens, rows] = [await Promise.all(gen), await Promise.all(trained)];

    const checks = JSON.parse(
      runPython(
        [join(PY_TESTS, 'check_internlm_converted.py')],
        JSON.stringify(
          CASES.map((c, i) => ({
            ckpt: join(fx, c.name),
            original: join(fx, `${c.name}.original.pt`),
            hf: hf(c.name),
            version: c.version,
            prompt_ids: gens[i]!.promptIds,
            gen_ids: gens[i]!.ids,
            pth: join(root, c.name, 'work', 'iter_4.pth'),
            back: join(root, c.name, 'back'),
          })),
        ),
      ),
    ) as Check[];
    CASES.forEach((c, i) => {
      const r = checks[i]!,
        g = gens[i]!;
      // (a) the converted folder in the worker = the reference on the weights before sharding
      expect(r.logits_diff_T1, c.name).toBeLessThanOrEqual(1e-4);
      expect(r.logits_diff_T48, c.name).toBeLessThanOrEqual(1e-4);
      expect(r.worker_roundtrip_equal, c.name).toBe(true);
      // (b) weft generate: BOS + the template's turn from the sentencepiece model; greedy ids = the reference loop
      expect(g.promptIds[0], c.name).toBe(1);
      expect(
        g.promptIds.every((id) => id >= 0 && id < 1000),
        c.name,
      ).toBe(true);
      expect(g.stopped === 'eos' ? g.ids.at(-1) === 2 : g.ids.length === 8, c.name).toBe(true); // </s> = 2 in bpe.model
      expect(g.ids, c.name).toEqual(r.ref_greedy);
      expect(r.ref_greedy_margin, c.name).toBeGreaterThan(1e-3);
      // (c) trained: loss falls; pth-to-hf gives the checkpoint's tensors under the converted keys and config
      expect(
        rows[i]!.map((x) => x.step),
        c.name,
      ).toEqual([1, 2, 3, 4]);
      expect(rows[i]![3]!.loss, c.name).toBeLessThan(rows[i]![0]!.loss - 0.3);
      expect(r.trained, c.name).toMatchObject({
        equals_pth: true,
        keys_as_converted: true,
        shapes_as_converted: true,
        config_as_converted: true,
        logits_finite: true,
      });
      expect(r.trained.moved, c.name).toBeGreaterThan(10);
    });
    expect(existsSync(join(root, CASES[0].name, 'back', 'tokenizer.model'))).toBe(true);
  }, 300_000);
});
