import { mkdirSync, statSync } from 'node:fs';
import { BinWriter } from '@weft/tokenize';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { stderrOf } from './stderr.ts';
import { runProcess } from '../src/process.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('weft process progress', () => {
  it('counts bytes read of all input bytes while a file is read, and a rerun says what it reused instead of "0 samples"', async () => {
    const base = tempDir('weft-proc-progress-');
    const input = join(base, 'in');
    mkdirSync(input);
    // Two tokenized files of 300 samples each (.bin lines carry byte offsets, so progress moves inside a file).
    for (const f of ['a', 'b']) {
      const w = await BinWriter.create(join(input, `${f}.bin`));
      for (let i = 0; i < 300; i++) await w.write([1, 2, 3, 4 + (i % 7)]);
      await w.close();
    }
    const total = ['a', 'b'].reduce((n, f) => n + statSync(join(input, `${f}.bin`)).size, 0);
    const out = join(base, 'out');

    const first = await stderrOf(() => runProcess({ input, format: 'internlm', out }));
    const proc = first.filter((l) => l.startsWith('process: '));
    // Lines in the middle of the first file: a fraction of the bytes, an ETA, and a token rate that is not zero.
    const mid = proc.find((l) => /^process: [1-4]\d\.\d% /.test(l));
    expect(mid, proc.join('\n')).toMatch(
      new RegExp(
        `^process: \\d+\\.\\d% [\\d.]+ kB of ${(total / 1e3).toFixed(1)} kB, [\\d.]+ [kM]?B/s, ETA \\d\\d:\\d\\d \\| \\d+ samples \\(.+/s\\) \\| \\d+ tok \\((?!0/s).+/s\\) \\| 0/2 files$`,
      ),
    );
    expect(proc.at(-1)).toMatch(
      /^process: 100\.0% .*, took \d\d:\d\d \| 600 samples \(.*\) \| 2400 tok \(.*\) \| 2\/2 files$/,
    );

    const again = await stderrOf(() => runProcess({ input, format: 'internlm', out }));
    expect(again.at(-1)).toMatch(
      /^process: 100\.0% .* \| 600 samples \(0\/s\) \| 2400 tok \(0\/s\) \| 2\/2 files, reused 2 of 2 from an earlier run$/,
    );

    // Tokenized input with --pack packs directly (other settings: --overwrite); a rerun says it reused the packed folder.
    const packs = await stderrOf(() =>
      runProcess({ input, format: 'internlm', out, pack: true, packedLength: 16, overwrite: true }),
    );
    expect(packs.at(-1)).toMatch(/^pack: 100\.0% 150\/150 packs, .* took \d\d:\d\d \| 2400 tok /);
    const packsAgain = await stderrOf(() =>
      runProcess({ input, format: 'internlm', out, pack: true, packedLength: 16 }),
    );
    expect(packsAgain).toEqual([
      `pack: reused ${join(out, 'packed')} (150 packs) from an earlier run with the same inputs and settings`,
    ]);

    const quiet = await stderrOf(() =>
      runProcess({ input, format: 'internlm', out, pack: true, packedLength: 16, progress: false }),
    );
    expect(quiet).toEqual(['']);
  });
});
