// Issue 11, items 2 and 3: reruns remove what killed runs left (only weft's own temps, only of
// dead runs), and a `weft process` output holds exactly what its summary lists.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PackedDataset, writePackedDataset } from '@weft/pack';
import { runProcess } from '../src/index.ts';
import { writeBinFolderWithNumpy } from '../../pack/test/write-bin.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
const base = mkdtempSync(join(tmpdir(), 'weft-rerun-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const lines = (f: number, n: number): number[][] =>
  Array.from({ length: n }, (_, l) =>
    Array.from({ length: 2 + ((l * 7 + f) % 23) }, (_, k) => (k % 4 === 0 ? -1 : 1) * (5 + l + k + f)),
  );
const input = join(base, 'in');
writeBinFolderWithNumpy(input, [lines(0, 60), lines(1, 40)]);

/** A pid that surely belonged to a process that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' }).pid!;
const hidden = (dir: string): string[] =>
  readdirSync(dir)
    .filter((e) => e.startsWith('.') && e !== '.weft-output.json')
    .sort();

describe('item 2: temps of killed runs', () => {
  it('a rerun of weft pack removes the temp folder a SIGKILLed run left', async () => {
    const dir = join(base, 'killed');
    mkdirSync(dir);
    const out = join(dir, 'packed');
    const child = spawn(process.execPath, [WEFT, 'pack', input, '--packed-length', '8', '--quiet', '--out', out], {
      env: { ...process.env, WEFT_TEST_THROTTLE_MS: '20' },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.on('exit', r));
    while (!readdirSync(dir).some((e) => e.startsWith('.packed.tmp-'))) {
      expect(child.exitCode, 'pack finished before it could be killed').toBeNull();
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    expect(hidden(dir).length).toBe(1);
    await writePackedDataset(await PackedDataset.fromBinFolder(input, { packedLength: 8, seed: 1024 }), out);
    expect(hidden(dir)).toEqual([]);
    expect(existsSync(join(out, 'state.json'))).toBe(true);
  });

  it("removes dead runs' temps of this output only, never a live run's or another name's", async () => {
    const dir = join(base, 'planted');
    mkdirSync(dir);
    const dead = deadPid();
    const planted = {
      deadFolder: `.packed.tmp-${dead}`,
      deadFile: `.packed.tmp-${dead}-0badf00d`,
      live: `.packed.tmp-${process.ppid}`,
      otherName: `.theirs.tmp-${dead}`,
    };
    mkdirSync(join(dir, planted.deadFolder));
    writeFileSync(join(dir, planted.deadFolder, 'shard-0'), 'x');
    for (const n of [planted.deadFile, planted.live, planted.otherName]) writeFileSync(join(dir, n), 'x');
    await writePackedDataset(
      await PackedDataset.fromBinFolder(input, { packedLength: 8, seed: 1024 }),
      join(dir, 'packed'),
    );
    expect(hidden(dir)).toEqual([planted.live, planted.otherName].sort());
  });

  it("weft process keeps another live run's temps inside its output, and drops dead ones", async () => {
    const out = join(base, 'proc-live');
    const opts = { input, format: 'internlm' as const, out, progress: false };
    await runProcess(opts);
    const live = `.summary.json.tmp-${process.ppid}-0badf00d`,
      dead = `.summary.json.tmp-${deadPid()}-0badf00d`;
    for (const n of [live, dead]) writeFileSync(join(out, n), 'x');
    writeFileSync(join(out, 'samples', `.0.tmp-${deadPid()}`), 'x');
    await runProcess(opts);
    expect(hidden(out)).toEqual([live]);
    expect(hidden(join(out, 'samples'))).toEqual([]);
  });
});

describe('item 3: a process output holds what its summary lists', () => {
  it('a rerun without --pack removes the old packed/; packing tokenized input directly removes the old samples/', async () => {
    const out = join(base, 'proc');
    const run = (pack: boolean) =>
      runProcess({ input, format: 'internlm', out, pack, packedLength: 8, progress: false, overwrite: true });
    const first = await run(true);
    expect(first.packed_dir).toBe('packed');
    expect(first.samples_dir).toBeNull();
    expect(existsSync(join(out, 'packed'))).toBe(true);
    mkdirSync(join(out, 'train')); // e.g. the demo's training run: not a part of process, left alone
    writeFileSync(join(out, 'train', 'metrics.jsonl'), '{}\n');

    const second = await run(false);
    expect(second.packed_dir).toBeNull();
    expect(second.samples_dir).toBe('samples');
    expect(existsSync(join(out, 'packed'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).packed_dir).toBeNull();

    const third = await run(true);
    expect(third.samples_dir).toBeNull();
    expect(existsSync(join(out, 'samples'))).toBe(false);
    expect(existsSync(join(out, 'packed', 'state.json'))).toBe(true);
    expect(readFileSync(join(out, 'train', 'metrics.jsonl'), 'utf8')).toBe('{}\n');
  });
});
