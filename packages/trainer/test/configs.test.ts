import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyConfig, listConfigs } from '../src/named-configs.ts';
import { loadConfig, validateConfig } from '../src/config.ts';
import { topologyFromEnv } from '../src/topology.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const NAMES = [
  'internlm2_7b_w_tokenized_dataset',
  'internlm2_7b_w_untokenized_dataset',
  'internlm_7b_full_intern_repo_dataset_template',
  'internlm2_7b_full_finetune_custom_dataset_e1',
  'tiny_cpu_demo',
];

describe('named configs', () => {
  it('list-cfg names the five starting configs, and each loads and validates', async () => {
    expect(listConfigs().map((c) => c.name)).toEqual([...NAMES].sort());
    const dir = tempDir('weft-cfg-');
    for (const name of NAMES) {
      const file = copyConfig(name, dir);
      expect(readFileSync(file, 'utf8')).toContain('satisfies TrainConfig');
      const c = await loadConfig(file);
      expect(c.workDir).toContain(name);
    }
    expect(() => copyConfig('tiny_cpu_demo', dir)).toThrow(/exists/);
    expect(() => copyConfig('nope', dir)).toThrow(/no config named nope/);
    expect(existsSync(join(dir, 'tiny_cpu_demo.ts'))).toBe(true);
  });

  it('names the bad field', async () => {
    const c = await loadConfig(copyConfig('tiny_cpu_demo', tempDir('weft-cfg-')));
    expect(() => validateConfig({ ...c, microBatchSize: 0 })).toThrow(/microBatchSize must be a positive integer/);
    expect(() => validateConfig({ ...c, totalSteps: undefined, epochs: undefined })).toThrow(/totalSteps/);
    expect(() => validateConfig({ ...c, precision: 'fp8' as never })).toThrow(/precision must be 'auto' or 'autocast'/);
    expect(() => validateConfig({ ...c, ceChunk: -1 })).toThrow(/ceChunk must be an integer >= 0/);
    expect(() => validateConfig({ ...c, dtype: 'fp8' as never })).toThrow(/dtype must be 'bf16' or 'fp16'/);
    expect(() => validateConfig({ ...c, gradScaler: { hysteresis: 1 } })).toThrow(
      /gradScaler is only used with dtype: 'fp16'/,
    );
    expect(() => validateConfig({ ...c, dtype: 'fp16', gradScaler: { backoffFactor: 2 } })).toThrow(
      /gradScaler.backoffFactor must be in \(0, 1\)/,
    );
    expect(() => validateConfig({ ...c, dtype: 'fp16', gradScaler: { growthInterval: 0 } })).toThrow(
      /gradScaler.growthInterval must be an integer >= 1/,
    );
    expect(() => validateConfig({ ...c, etaMin: 1 })).toThrow(/etaMin/);
    expect(() => validateConfig({ ...c, nprocPerNode: 0 })).toThrow(/nprocPerNode must be an integer >= 1/);
    expect(() => validateConfig({ ...c, shard: 'zero3' as never })).toThrow(
      /shard must be 'auto', 'fsdp2', 'ddp' or 'none'/,
    );
    expect(validateConfig({ ...c, shard: 'fsdp2' }).shard).toBe('fsdp2');
  });

  it('list-cfg says as many gloo workers for tiny_cpu_demo as `weft train tiny_cpu_demo` starts', async () => {
    const summary = listConfigs().find((x) => x.name === 'tiny_cpu_demo')!.summary;
    const said = Number(/(\d+) gloo workers?/.exec(summary)?.[1]);
    const c = await loadConfig(copyConfig('tiny_cpu_demo', tempDir('weft-cfg-')));
    // What train() starts with no --nproc-per-node and no NPROC_PER_NODE on a machine without GPUs.
    expect(topologyFromEnv({}, undefined, c.nprocPerNode ?? 1).nprocPerNode).toBe(said);
    expect(said).toBe(2);
  });
});
