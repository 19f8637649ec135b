/**
 * The real `weft` commands on folders of seeded hostile files (a few spawns, each over many
 * files): the exit code is 0, 1 or 2 and never a crash code, stderr has no raw stack trace, the
 * inputs are byte-for-byte untouched, and with `--on-error skip` records in = out + reported.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mutateBytes, seededRandom } from '@weft/core';

const REPO = new URL('../../../', import.meta.url).pathname;
const WEFT = join(REPO, 'packages/cli/bin/weft.mjs');
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const work = mkdtempSync(join(tmpdir(), 'weft-hostile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const digest = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex'),
      ]),
  );
const firstLines = (path: string, n: number): Buffer =>
  Buffer.from(readFileSync(path, 'utf8').split('\n').slice(0, n).join('\n') + '\n');

function weft(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8', cwd: work });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sane(label: string, r: { status: number | null; stderr: string }): void {
  expect([0, 1, 2], `${label}: exit ${r.status}\n${r.stderr}`).toContain(r.status);
  expect(r.stderr, label).not.toMatch(/\n\s+at .*\(|^\s+at /m);
}

const total = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

describe(`weft on hostile folders (FUZZ_SEED=${SEED})`, () => {
  it('.bin folder: scan, process (fail and skip), pack --on-error skip', () => {
    const dir = join(work, 'bins');
    mkdirSync(dir);
    const r = seededRandom(SEED);
    const src = join(REPO, 'data/sample/tokenized/en/part-001.bin');
    for (let k = 0; k < 12; k++) {
      const name = join(dir, `f${String(k).padStart(2, '0')}.bin`);
      // Half keep their sample bytes (some files must pack), the rest get a mutated .bin or .meta.
      copyFileSync(src, name);
      copyFileSync(`${src}.meta`, `${name}.meta`);
      if (k % 2 === 1) {
        const target = r() < 0.7 ? name : `${name}.meta`;
        writeFileSync(target, mutateBytes(readFileSync(target), r).bytes);
      }
    }
    const before = digest(dir);

    const scan = weft(['scan', dir, '--json']);
    sane('scan', scan);
    expect(scan.status).toBe(0);

    const fail = weft(['process', dir, '--format', 'internlm', '--quiet', '--out', join(work, 'p-fail')]);
    sane('process fail', fail);
    expect(fail.status, fail.stderr).toBe(2);
    expect(fail.stderr).toMatch(/^weft: DataError: .*bins\/f\d\d\.bin/m);

    const skip = weft([
      'process',
      dir,
      '--format',
      'internlm',
      '--pack',
      '--packed-length',
      '256',
      '--on-error',
      'skip',
      '--quiet',
      '--out',
      join(work, 'p-skip'),
    ]);
    sane('process skip', skip);
    expect(skip.status, skip.stderr).toBe(0);
    const s = JSON.parse(skip.stdout) as { read: number; kept: number; skipped: Record<string, number>; packs: number };
    expect(s.read, JSON.stringify(s)).toBe(s.kept + total(s.skipped));
    expect(s.packs).toBeGreaterThan(0);

    const pack = weft([
      'pack',
      dir,
      '--packed-length',
      '256',
      '--on-error',
      'skip',
      '--quiet',
      '--out',
      join(work, 'packed'),
    ]);
    sane('pack skip', pack);
    expect(pack.status, pack.stderr).toBe(0);
    const p = JSON.parse(pack.stdout) as {
      lines: number;
      kept: number;
      skipped: Record<string, number>;
      packs: number;
    };
    expect(p.lines).toBe(p.kept + total(p.skipped));
    expect({ lines: p.lines, kept: p.kept, skipped: p.skipped, packs: p.packs }).toEqual({
      lines: s.read,
      kept: s.kept,
      skipped: s.skipped,
      packs: s.packs,
    });

    expect(digest(dir), 'inputs untouched').toEqual(before);
  });

  it('chat .json folder: process --format ftdp --on-error skip accounts for every line', () => {
    const dir = join(work, 'ftdp');
    mkdirSync(dir);
    const r = seededRandom(SEED ^ 0xf7d9);
    const base = firstLines(join(REPO, 'data/sample/ftdp/chat_en.json'), 5);
    for (let k = 0; k < 10; k++) writeFileSync(join(dir, `c${k}.json`), k < 3 ? base : mutateBytes(base, r).bytes);
    const before = digest(dir);
    const skip = weft([
      'process',
      dir,
      '--format',
      'ftdp',
      '--on-error',
      'skip',
      '--quiet',
      '--out',
      join(work, 'f-skip'),
    ]);
    sane('ftdp skip', skip);
    expect(skip.status, skip.stderr).toBe(0);
    const s = JSON.parse(skip.stdout) as { read: number; kept: number; skipped: Record<string, number> };
    expect(s.read, JSON.stringify(s)).toBe(s.kept + total(s.skipped));
    // The 3 untouched files keep 3 records each: 2 of the 5 lines train nothing (every reply loss: false)
    // and are dropped as no-trainable-token, as xtuner's offline job does.
    expect(s.kept).toBeGreaterThanOrEqual(9);
    expect(s.skipped['no-trainable-token']).toBeGreaterThanOrEqual(6);
    // (Fail mode on these files is covered without a spawn by packages/tokenize/test/docs-fuzz.test.ts.)
    expect(digest(dir), 'inputs untouched').toEqual(before);
  });
});
