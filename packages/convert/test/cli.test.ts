import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compare, fixtures, tmp } from './helpers.ts';

const WEFT = fileURLToPath(new URL('../../cli/bin/weft.mjs', import.meta.url));
const weft = (...args: string[]) => spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8' });

let fx: string;
beforeAll(() => {
  fx = fixtures();
});

describe('weft convert CLI', () => {
  it('pth-to-hf with --dtype and --max-shard-size, then inspect of the output and of a DeepSpeed folder', () => {
    const base = tmp();
    writeFileSync(join(base, 'config.json'), '{"torch_dtype": "bfloat16"}');
    const out = tmp();
    const r = weft(
      'convert',
      'pth-to-hf',
      base,
      join(fx, 'xtuner_llama.pth'),
      out,
      '--dtype',
      'fp32',
      '--max-shard-size',
      '4KB',
      '--quiet',
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wrote 21 tensors, \d+ bytes in \d+ file\(s\)/);
    expect(compare(join(fx, 'xtuner_llama.expected.pth'), out, 'fp32').problems).toEqual([]);
    const i = weft('convert', 'inspect', out, '--json');
    expect(i.status, i.stderr).toBe(0);
    const info = JSON.parse(i.stdout);
    expect(info.kind).toBe('safetensors');
    expect(info.tensors).toHaveLength(21);
    expect(info.tensors.every((t: { dtype: string }) => t.dtype === 'F32')).toBe(true);
    const d = weft('convert', 'inspect', join(fx, 'ds_zero3'));
    expect(d.stdout).toContain('# deepspeed-zero3: 7 tensors');
    expect(d.stdout).toMatch(/model\.layers\.0\.odd\.bias\tF32\t\[7\]\t28/);
  });

  it('bad input: a clear DataError and exit code 1, no stack trace', () => {
    const r = weft('convert', 'inspect', join(fx, 'legacy.pth'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/DataError: .*legacy\.pth.*legacy/);
  });
});
