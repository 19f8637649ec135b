import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess, type ProcessOptions } from '../src/process.ts';
import { runProcessShard, shardDirName } from '../src/shard-run.ts';
import { mergeShards } from '../src/merge.ts';
import { planUnits, assignUnits, resolveShard } from '@weft/pack';
import { makeShardInput, sameTree, SHARD_JOB, SHARD_JOB_ARGS, tree } from './shard-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { stderrOf } from './stderr.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
const CHECK = new URL('../../../tools/reference/merged_shards_check.py', import.meta.url).pathname;
const base = tempDir('weft-shard-');

const input = makeShardInput(join(base, 'in'));
const job = (out: string): ProcessOptions => ({ input, ...SHARD_JOB, out });

async function sharded(out: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await runProcessShard(job(out), { index: i, count: n, source: 'cli' });
  await mergeShards(out, { progress: false });
}

describe('sharded weft process + weft merge', () => {
  let single: Map<string, Buffer>;
  beforeAll(async () => {
    await runProcess(job(join(base, 'single')));
    single = tree(join(base, 'single'));
  });

  it('a single run cuts the large files into byte ranges, one Arrow file (at least) per range', () => {
    const state = (k: number) =>
      JSON.parse(single.get(`samples/${k}/state.json`)!.toString()) as { _data_files: unknown[] };
    // chat_cn.json and chat_en.json are ~47 KB: 3 ranges each at a 16 000-byte bound.
    expect(state(0)._data_files.length).toBeGreaterThanOrEqual(3);
    expect(state(1)._data_files.length).toBeGreaterThanOrEqual(3);
    expect(single.has('packed/state.json')).toBe(true);
  });

  for (const n of [1, 2, 3, 7]) {
    it(`${n} shard(s) merge into the same bytes as one process (samples and packed)`, async () => {
      const out = join(base, `n${n}`);
      await sharded(out, n);
      expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
      // No copies: every Arrow file of the merged splits is a hard link to a shard's file.
      const st = statSync(join(out, 'samples', '0', 'data-00000-of-00003.arrow'));
      expect(st.nlink).toBe(2);
      if (n === 3) {
        // A plain run on the merged folder recognises every split as done (same digests, same config).
        const before = statSync(join(out, 'samples', '0', 'state.json')).mtimeMs;
        const lines = await stderrOf(() => runProcess({ ...job(out), progress: true }));
        expect(lines.filter((l) => l.startsWith('process: ')).at(-1)).toMatch(
          / \| 4\/4 files, reused 4 of 4 from an earlier run$/,
        );
        expect(statSync(join(out, 'samples', '0', 'state.json')).mtimeMs).toBe(before);
        expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
      }
    }, 120_000);
  }

  it('the merge says it merged the splits from the shards, not "0 samples"', async () => {
    const out = join(base, 'progress');
    for (let i = 0; i < 2; i++) await runProcessShard(job(out), { index: i, count: 2, source: 'cli' });
    const lines = await stderrOf(() => mergeShards(out, { progress: true }));
    const proc = lines.filter((l) => l.startsWith('process: '));
    expect(proc.at(-1), lines.join('\n')).toMatch(
      /^process: 100\.0% .* \| \d+ samples \(0\/s\) \| [\d.]+k? tok \(0\/s\) \| 4\/4 files, reused 4 of 4 merged from 2 shards$/,
    );
    expect(lines.at(-1)).toMatch(/^merge: 2 shards, 4 splits, \d+ Arrow files linked, \d+ samples, .* packs in /);
  }, 60_000);

  it('7 shards split a large file between tasks, and the plan does not depend on the task count', () => {
    const marker = (i: number) =>
      JSON.parse(readFileSync(join(base, 'n7', 'shards', shardDirName(i, 7), 'weft_shard.json'), 'utf8')) as {
        units: { file: number; range: number }[];
        config: { files: string[] };
      };
    const long = marker(0).config.files.indexOf('z_long.json');
    const owners = new Map<string, number>();
    for (let i = 0; i < 7; i++) for (const u of marker(i).units) owners.set(`${u.file}.${u.range}`, i);
    expect(new Set([owners.get('0.0'), owners.get('0.1'), owners.get('0.2')]).size).toBeGreaterThan(1);
    // z_long.json's middle line is longer than two bounds: its middle range is empty and writes no file.
    const mid = marker(owners.get(`${long}.1`)!).units.find((u) => u.file === long && u.range === 1) as unknown as {
      bytes: { start: number; end: number };
      arrow: unknown[];
    };
    expect(mid.bytes.end - mid.bytes.start).toBe(0);
    expect(mid.arrow).toEqual([]);
    const units = planUnits(
      [
        { size: 30, splittable: true },
        { size: 5, splittable: false },
        { size: 25, splittable: true },
      ],
      10,
    );
    expect(units.map((u) => `${u.file}.${u.range}`)).toEqual(['0.0', '0.1', '0.2', '1.0', '2.0', '2.1', '2.2']);
    const a = assignUnits(units, 3);
    expect(a).toEqual([...a].sort()); // contiguous in data order
    expect(new Set(a).size).toBe(3);
  });
});

describe('shard failures', () => {
  let single: Map<string, Buffer>;
  beforeAll(async () => {
    const out = join(base, 'single2');
    if (!existsSync(out)) await runProcess(job(out));
    single = tree(out);
  });

  it('a shard SIGKILLed mid-write, rerun alone, gives the same final bytes; the other shards are not redone; HF datasets opens the merge', async () => {
    const out = join(base, 'killed');
    await runProcessShard(job(out), { index: 0, count: 3, source: 'cli' });
    await runProcessShard(job(out), { index: 2, count: 3, source: 'cli' });
    const before = readFileSync(join(out, 'shards', shardDirName(0, 3), 'weft_shard.json'));
    const args = [WEFT, 'process', input, ...SHARD_JOB_ARGS, '--quiet', '--out', out];
    // Killed once an Arrow file of its temp folder has been written (throttled so that it is mid-job).
    const child = spawn(process.execPath, [...args, '--shard', '1/3'], {
      env: { ...process.env, WEFT_TEST_THROTTLE_MS: '20' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const shardsDir = join(out, 'shards');
    const midWrite = (): boolean =>
      readdirSync(shardsDir).some(
        (e) =>
          e.startsWith(`.${shardDirName(1, 3)}.tmp-`) &&
          readdirSync(join(shardsDir, e)).some((u) => existsSync(join(shardsDir, e, u, 'state.json'))),
      );
    for (;;) {
      if (child.exitCode !== null) break;
      if (midWrite()) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await exited).toBe(null); // killed, not finished
    expect(existsSync(join(shardsDir, shardDirName(1, 3)))).toBe(false); // nothing visible of the killed shard
    await expect(mergeShards(out, { progress: false })).rejects.toThrow(
      /shard 1\/3 .*shard-00001-of-00003.* not completed: rerun that task alone/,
    );
    // The rerun of the killed task alone, with --merge: it finds every shard complete and merges.
    execFileSync(process.execPath, [...args, '--shard', '1/3', '--merge'], { stdio: 'pipe' });
    expect(readFileSync(join(out, 'shards', shardDirName(0, 3), 'weft_shard.json')).equals(before)).toBe(true);
    expect(readdirSync(shardsDir).filter((e) => e.includes('.tmp-'))).toEqual([]);
    expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
    // HF datasets: one DatasetDict, each split the shards' rows in order, memory-mapped in place.
    const r = JSON.parse(execFileSync('python3', [CHECK, out], { encoding: 'utf8' })) as {
      splits: number;
      rows: number;
      units: number;
      packs: number;
    };
    const summary = JSON.parse(single.get('summary.json')!.toString()) as {
      kept: number;
      packs: number;
      files: number;
    };
    expect(r).toEqual({ splits: summary.files, rows: summary.kept, units: 10, packs: summary.packs });
  }, 120_000);

  it('a merge with a missing or mismatched shard fails naming it', async () => {
    const out = join(base, 'bad');
    for (const i of [0, 1, 2]) await runProcessShard(job(out), { index: i, count: 3, source: 'cli' });
    const two = join(out, 'shards', shardDirName(2, 3));
    renameSync(two, `${two}-moved`);
    await expect(mergeShards(out, { progress: false })).rejects.toThrow(
      /shard 2\/3 \(.*shard-00002-of-00003\) has not completed/,
    );
    renameSync(`${two}-moved`, two);
    // A task with other output settings cannot join the folder another job marked.
    await expect(
      runProcessShard({ ...job(out), maxLength: 256 }, { index: 1, count: 3, source: 'cli' }),
    ).rejects.toThrow(/holds an earlier output of weft process with other settings.*--overwrite/);
    // Settings the marker does not record but the shard config does (the cut bound) still differ at merge.
    await runProcessShard({ ...job(out), splitBytes: 20_000 }, { index: 1, count: 3, source: 'cli' });
    await expect(mergeShards(out, { progress: false })).rejects.toThrow(
      /shard 1\/3 \(.*shard-00001-of-00003\) was made with a different config than shards 0, 2: splitBytes 20000 vs 16000, split_bytes 20000 vs 16000/,
    );
    // A shard of another task count in the same folder is named too.
    await runProcessShard(job(out), { index: 1, count: 3, source: 'cli' });
    await runProcessShard(job(out), { index: 0, count: 2, source: 'cli' });
    await expect(mergeShards(out, { progress: false })).rejects.toThrow(/different task counts \(2, 3\)/);
    rmSync(join(out, 'shards', shardDirName(0, 2)), { recursive: true });
    // A flipped byte keeps the size: only --verify (SHA-256 against the marker) finds it.
    const marker1 = JSON.parse(readFileSync(join(out, 'shards', shardDirName(1, 3), 'weft_shard.json'), 'utf8')) as {
      units: { dir: string; arrow: { name: string }[] }[];
    };
    const u = marker1.units.find((x) => x.arrow.length > 0)!;
    const victim = join(out, 'shards', shardDirName(1, 3), u.dir, u.arrow[0]!.name);
    const good = readFileSync(victim);
    const bad = Buffer.from(good);
    bad[bad.length - 20] ^= 1;
    writeFileSync(victim, bad);
    await expect(mergeShards(out, { progress: false, verify: true })).rejects.toThrow(
      /shard 1\/3: .*shard-00001-of-00003.* does not have the SHA-256 its marker records/,
    );
    writeFileSync(victim, good);
    await mergeShards(out, { progress: false, verify: true });
    expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
  }, 120_000);

  it('--overwrite replaces another job, never a finished shard of the same job', async () => {
    const out = join(base, 'overwrite');
    const shard = (i: number) => join(out, 'shards', shardDirName(i, 3), 'weft_shard.json');
    await runProcessShard(job(out), { index: 0, count: 3, source: 'cli' });
    await runProcessShard(job(out), { index: 2, count: 3, source: 'cli' });
    const kept = readFileSync(shard(0));
    // A task of the same job with --overwrite (e.g. the whole array resubmitted with it) joins: shards 0 and 2 stay.
    await runProcessShard({ ...job(out), overwrite: true }, { index: 1, count: 3, source: 'cli' });
    expect(readFileSync(shard(0)).equals(kept)).toBe(true);
    expect(existsSync(shard(2))).toBe(true);
    await mergeShards(out, { progress: false });
    expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
    // Another job (other settings) with --overwrite: the old job's shards and merged parts go, the new one's marker stays.
    await runProcessShard({ ...job(out), maxLength: 256, overwrite: true }, { index: 1, count: 3, source: 'cli' });
    expect(readdirSync(out).sort()).toEqual(['.weft-output.json', 'shards']);
    expect(readdirSync(join(out, 'shards'))).toEqual([shardDirName(1, 3)]);
    const marker = JSON.parse(readFileSync(join(out, '.weft-output.json'), 'utf8')) as {
      command: string;
      settings: { max_length: number };
    };
    expect([marker.command, marker.settings.max_length]).toEqual(['process', 256]);
  }, 120_000);
});

describe('resolveShard', () => {
  it('reads Slurm arrays, Kubernetes Indexed Jobs and torchrun, and refuses none or an inconsistent pair', () => {
    expect(resolveShard('3/8')).toEqual({ index: 3, count: 8, source: 'cli' });
    expect(resolveShard('auto', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({
      index: 2,
      count: 4,
      source: 'slurm',
    });
    expect(
      resolveShard('auto', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '3' }),
    ).toEqual({ index: 2, count: 4, source: 'slurm' });
    // A rerun of task 7 alone (sbatch --array=7): Slurm says COUNT=1, MIN=MAX=7; --num-shards gives the job's count.
    const rerun = {
      SLURM_ARRAY_TASK_ID: '7',
      SLURM_ARRAY_TASK_COUNT: '1',
      SLURM_ARRAY_TASK_MIN: '7',
      SLURM_ARRAY_TASK_MAX: '7',
    };
    expect(() => resolveShard('auto', rerun)).toThrow(/not 0..N-1.*pass --num-shards/);
    expect(resolveShard('auto', rerun, 16)).toEqual({ index: 7, count: 16, source: 'slurm' });
    expect(resolveShard('auto', { JOB_COMPLETION_INDEX: '5' }, 6)).toEqual({
      index: 5,
      count: 6,
      source: 'kubernetes',
    });
    expect(resolveShard('auto', { RANK: '1', WORLD_SIZE: '2' })).toEqual({ index: 1, count: 2, source: 'torchrun' });
    expect(() => resolveShard('auto', {})).toThrow(/found no task index: expected a Slurm job array/);
    expect(() => resolveShard('auto', { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4' })).toThrow(
      /index 4 is outside 0..3.*inconsistent/,
    );
    expect(() =>
      resolveShard('auto', {
        SLURM_ARRAY_TASK_ID: '2',
        SLURM_ARRAY_TASK_COUNT: '2',
        SLURM_ARRAY_TASK_MIN: '0',
        SLURM_ARRAY_TASK_MAX: '2',
      }),
    ).toThrow(/not 0..N-1/); // --array=0,2
    expect(() => resolveShard('auto', { SLURM_ARRAY_TASK_ID: '1' })).toThrow(/neither SLURM_ARRAY_TASK_COUNT nor/);
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: '1' })).toThrow(/needs --num-shards/);
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: '6' }, 6)).toThrow(/outside 0..5/);
    expect(() => resolveShard('auto', { RANK: '0' })).toThrow(/RANK is set without WORLD_SIZE/);
    expect(() => resolveShard('auto', { RANK: '0', WORLD_SIZE: '2' }, 3)).toThrow(
      /gives 2 tasks but --num-shards is 3/,
    );
    expect(() => resolveShard('2/2')).toThrow(/outside 0..1/);
    expect(() => resolveShard('1-4')).toThrow(/"auto" or I\/N/);
  });
});
