import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDataError } from '@weft/core';
import { runProcess } from '../src/process.ts';
import { writeBinFolderWithNumpy } from '../../pack/test/write-bin.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
const base = mkdtempSync(join(tmpdir(), 'weft-vocab-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

// Line 3 of 001.bin holds 151669 (one past the Qwen3 vocabulary), as a no-loss token.
const QWEN3 = 151669;
const files = [
  [
    [1, 2, 3, 4],
    [5, -6, 7],
  ],
  [
    [8, 9],
    [10, 11, 12],
    [13, -151669, 14],
    [15, 16],
  ],
];
const bins = join(base, 'bins');
writeBinFolderWithNumpy(bins, files);

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isDataError(e)).toBe(true);
  return e as Error;
}

describe('token ids at or above the vocabulary size', () => {
  it('weft process --format internlm --vocab-size: DataError naming file and line, or skipped and counted', async () => {
    const e = await failure(
      runProcess({ input: bins, format: 'internlm', vocabSize: QWEN3, out: join(base, 'p1'), progress: false }),
    );
    expect(e.message).toMatch(
      /001\.bin: line 3 \(byte \d+\): token id 151669 at position 1 is outside the vocabulary \(vocab_size 151669/,
    );
    const s = await runProcess({
      input: bins,
      format: 'internlm',
      vocabSize: QWEN3,
      onError: 'skip',
      out: join(base, 'p2'),
      progress: false,
    });
    expect(s.read).toBe(6);
    expect(s.kept).toBe(5);
    expect(s.skipped).toEqual({ 'token-out-of-vocab': 1 });
    // Without a vocabulary size, .bin ids are not checked (nothing says what the model takes).
    expect((await runProcess({ input: bins, format: 'internlm', out: join(base, 'p3'), progress: false })).kept).toBe(
      6,
    );
  });

  it('weft process --format internlm --pack --vocab-size fails before writing packs, or leaves the line out', async () => {
    const out = join(base, 'p4');
    const e = await failure(
      runProcess({
        input: bins,
        format: 'internlm',
        pack: true,
        packedLength: 4,
        vocabSize: QWEN3,
        out,
        progress: false,
      }),
    );
    expect(e.message).toMatch(/001\.bin: line 3 \(byte \d+\): token id 151669 at position 1 is outside the vocabulary/);
    expect(existsSync(join(out, 'packed'))).toBe(false); // With skip the line is left out before the layout is drawn, and counted.
    const s = await runProcess({
      input: bins,
      format: 'internlm',
      pack: true,
      packedLength: 4,
      vocabSize: QWEN3,
      onError: 'skip',
      out: join(base, 'p4s'),
      progress: false,
    });
    expect(s.read).toBe(6);
    expect(s.kept).toBe(5);
    expect(s.skipped).toEqual({ 'token-out-of-vocab': 1 });
  });

  it("weft process on raw data checks against --vocab-size (default: the tokenizer's)", async () => {
    const ftdp = join(base, 'chat.json');
    writeFileSync(
      ftdp,
      `${JSON.stringify([
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ])}\n`,
    );
    const e = await failure(
      runProcess({ input: ftdp, format: 'ftdp', vocabSize: 1000, out: join(base, 'p5'), progress: false }),
    );
    expect(e.message).toMatch(
      /chat\.json: line 1 \(byte 0\): token id \d+ at position 0 is outside the vocabulary \(vocab_size 1000/,
    );
    expect((await runProcess({ input: ftdp, format: 'ftdp', out: join(base, 'p6'), progress: false })).kept).toBe(1);
  });

  it('weft pack --vocab-size: exit 2 with the file and line, nothing written; with --on-error skip, counted', () => {
    const out = join(base, 'packed');
    const r = spawnSync(
      process.execPath,
      [WEFT, 'pack', bins, '--packed-length', '4', '--vocab-size', String(QWEN3), '--quiet', '--out', out],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^weft: DataError: .*001\.bin: line 3 \(byte \d+\): token id 151669 at position 1 is outside the vocabulary \(vocab_size 151669.*or pass --on-error skip/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(out)).toBe(false);
    const skipped = spawnSync(
      process.execPath,
      [
        WEFT,
        'pack',
        bins,
        '--packed-length',
        '4',
        '--vocab-size',
        String(QWEN3),
        '--on-error',
        'skip',
        '--quiet',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(skipped.status).toBe(0);
    expect((JSON.parse(skipped.stdout) as { skipped: Record<string, number> }).skipped).toEqual({
      'token-out-of-vocab': 1,
    });
  });
});
