import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { OUTPUT_MARKER } from '@weft/core';
import { writeBinFolderWithNumpy } from '../../pack/test/write-bin.ts';
import { makeShardInput, SHARD_JOB_ARGS } from './shard-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;

/** Every file under dir (relative path → bytes). */
function tree(dir: string, root = dir, out = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) tree(p, root, out);
    else out.set(relative(root, p), readFileSync(p));
  }
  return out;
}

/** Visible (non-dot) names must be complete: a visible datasets folder has its state.json, no temp file shows. */
function assertNoPartialVisible(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) {
    if (e.startsWith('.')) continue;
    expect(e).not.toMatch(/tmp/);
    const p = join(dir, e);
    if (statSync(p).isDirectory()) {
      if (e !== 'samples') expect(existsSync(join(p, 'state.json')), `${p} is visible but incomplete`).toBe(true);
      assertNoPartialVisible(p);
    }
  }
}

/** Start `weft process`, SIGKILL it once `ready()` holds, and return whether it was killed mid-job. */
async function killWhen(args: string[], ready: () => boolean, env: NodeJS.ProcessEnv = {}): Promise<boolean> {
  const child = spawn(process.execPath, [WEFT, ...args], {
    env: { ...process.env, WEFT_TEST_THROTTLE_MS: '15', ...env },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  for (;;) {
    if (child.exitCode !== null) break;
    if (ready()) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const code = await exited;
  return code === null; // killed by the signal, not finished
}

function makeInput(base: string): string {
  // 6 files of 40 lines, lengths 1..120, written by numpy.
  const files: number[][][] = [];
  let x = 7;
  for (let f = 0; f < 6; f++) {
    const lines: number[][] = [];
    for (let l = 0; l < 40; l++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const n = 1 + (x % 120);
      lines.push(Array.from({ length: n }, (_, k) => ((k + l + f) % 5 === 0 ? -1 : 1) * (1 + ((x + k) % 5000))));
    }
    files.push(lines);
  }
  writeBinFolderWithNumpy(join(base, 'in'), files);
  return join(base, 'in');
}

describe('weft process: SIGKILL mid-job, rerun, identical bytes', () => {
  it('resumes the per-file splits', async () => {
    const base = tempDir('weft-crash-');
    const input = makeInput(base);
    const args = (out: string) => ['process', input, '--format', 'internlm', '--quiet', '--out', out];
    execFileSync(process.execPath, [WEFT, ...args(join(base, 'ref'))]);
    const out = join(base, 'out');
    // Kill after two splits are committed, while the third is being written.
    const killed = await killWhen(args(out), () => existsSync(join(out, 'samples', '1', 'state.json')));
    expect(killed).toBe(true);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
    expect(existsSync(join(out, 'samples', '5'))).toBe(false);
    assertNoPartialVisible(out);
    const before = statSync(join(out, 'samples', '0', 'data-00000-of-00001.arrow')).mtimeMs;
    execFileSync(process.execPath, [WEFT, ...args(out)]);
    // The finished split was reused, not rewritten.
    expect(statSync(join(out, 'samples', '0', 'data-00000-of-00001.arrow')).mtimeMs).toBe(before);
    expect(tree(out)).toEqual(tree(join(base, 'ref')));
  });

  it('resumes splits whose units worker threads were writing (ftdp, ranged files)', async () => {
    const base = tempDir('weft-crash-units-');
    const input = makeShardInput(join(base, 'in'));
    const args = (out: string, workers: number) => [
      'process',
      input,
      ...SHARD_JOB_ARGS,
      '--workers',
      String(workers),
      '--quiet',
      '--out',
      out,
    ];
    execFileSync(process.execPath, [WEFT, ...args(join(base, 'ref'), 0)]);
    const out = join(base, 'out');
    // Kill once the first split is linked together, while the workers write later units.
    const killed = await killWhen(args(out, 2), () => existsSync(join(out, 'samples', '0', 'state.json')), {
      WEFT_PARALLELISM: 'units',
    });
    expect(killed).toBe(true);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
    expect(readdirSync(join(out, 'samples')).some((e) => e.startsWith('.units.tmp-'))).toBe(true);
    assertNoPartialVisible(out);
    execFileSync(process.execPath, [WEFT, ...args(out, 2)], { env: { ...process.env, WEFT_PARALLELISM: 'units' } });
    expect(readdirSync(join(out, 'samples')).filter((e) => e.startsWith('.'))).toEqual([]);
    expect(tree(out)).toEqual(tree(join(base, 'ref')));
  });

  it('resumes an interrupted packing stage', async () => {
    const base = tempDir('weft-crash-pack-');
    const input = makeInput(base);
    const args = (out: string) => [
      'process',
      input,
      '--format',
      'internlm',
      '--pack',
      '--packed-length',
      '32',
      '--quiet',
      '--out',
      out,
    ];
    execFileSync(process.execPath, [WEFT, ...args(join(base, 'ref'))]);
    const out = join(base, 'out');
    // Kill while the packed folder is being written (its temp folder exists).
    const killed = await killWhen(
      args(out),
      () => existsSync(out) && readdirSync(out).some((e) => e.startsWith('.packed.tmp-')),
    );
    expect(killed).toBe(true);
    expect(existsSync(join(out, 'packed'))).toBe(false);
    assertNoPartialVisible(out);
    execFileSync(process.execPath, [WEFT, ...args(out)]);
    expect(readdirSync(out).filter((e) => e.startsWith('.') && e !== OUTPUT_MARKER)).toEqual([]);
    expect(tree(out)).toEqual(tree(join(base, 'ref')));
  });
});
