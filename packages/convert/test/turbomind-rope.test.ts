// config.yaml for rope_scaling variants (llama3, yarn, dynamic, linear) against the text that
// lmdeploy v0.9.2's converter code wrote for the same config.json (fixtures/turbomind/rope-cases.json:
// tools/device/turbomind_golden.py --rope-only, run on CPU; see its "note").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { safeDump, turbomindConfig, turbomindModelInfo } from '../src/turbomind/index.ts';

const { cases } = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'turbomind', 'rope-cases.json'), 'utf8'),
) as {
  cases: Record<string, { config: Record<string, unknown>; yaml: string }>;
};

describe('rope_param matches lmdeploy v0.9.2', () => {
  it.each(Object.entries(cases))('%s', (_, c) => {
    const info = turbomindModelInfo(c.config, { tp: 1, dtype: 'bfloat16' });
    const tokenizerSize = Number(/\n {2}tokenizer_size: (\d+)\n/.exec(c.yaml)![1]);
    expect(safeDump(turbomindConfig(info, { modelName: 'tiny-llama', chatTemplate: 'llama2', tokenizerSize }))).toBe(
      c.yaml,
    );
  });
  it('refuses scaling types lmdeploy does not convert, and ambiguous ones', () => {
    const base = cases['default']!.config;
    expect(() =>
      turbomindModelInfo({ ...base, rope_scaling: { type: 'longrope', factor: 2 } }, { tp: 1, dtype: 'auto' }),
    ).toThrow(/"longrope" is not supported/);
    expect(() =>
      turbomindModelInfo({ ...base, rope_scaling: { type: 'linear', rope_type: 'dynamic' } }, { tp: 1, dtype: 'auto' }),
    ).toThrow(/ambiguous rope_scaling/);
    expect(() =>
      turbomindModelInfo({ ...base, rope_scaling: { mrope_section: [16, 24, 24] } }, { tp: 1, dtype: 'auto' }),
    ).toThrow(/"mrope" is not supported/);
  });
});
