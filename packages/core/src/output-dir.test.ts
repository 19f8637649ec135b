import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputFile } from './output-file.ts';
import {
  checkOutputDir,
  claimOutputDir,
  claimSharedOutputDir,
  OUTPUT_MARKER,
  OutputDirError,
  readOutputMarker,
  StagedOutputDir,
} from './output-dir.ts';

const base = mkdtempSync(join(tmpdir(), 'weft-outdir-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function layout(name: string): { root: string; cwd: string; input: string; mine: string } {
  const root = join(base, name);
  const cwd = join(root, 'work');
  const input = join(root, 'data', 'in');
  const mine = join(root, 'mine');
  for (const d of [cwd, input, mine]) mkdirSync(d, { recursive: true });
  writeFileSync(join(input, 'a.bin'), 'tokens');
  writeFileSync(join(mine, 'notes.txt'), 'mine');
  return { root, cwd, input, mine };
}

describe('checkOutputDir', () => {
  const { root, cwd, input, mine } = layout('check');
  const o = { command: 'pack', inputs: [input], cwd };
  const refused = (out: string, extra: object = {}): string => {
    try {
      checkOutputDir(out, { ...o, ...extra });
    } catch (e) {
      expect(e).toBeInstanceOf(OutputDirError);
      expect((e as OutputDirError).exitCode).toBe(2);
      return (e as Error).message;
    }
    throw new Error(`${out} was not refused`);
  };

  it('refuses inputs, their parents and insides, the working directory and its parents, and /', () => {
    expect(refused(input)).toMatch(/is the input/);
    expect(refused(join(root, 'data'))).toMatch(/contains the input/);
    expect(refused(join(input, 'packed'))).toMatch(/lies inside the input/);
    expect(refused(cwd)).toMatch(/is the working directory/);
    expect(refused(root)).toMatch(/contains the working directory/);
    expect(refused('/')).toMatch(/root folder/);
    // Through a symlink, and relative spellings, too.
    symlinkSync(input, join(root, 'link'));
    expect(refused(join(root, 'link'))).toMatch(/is the input/);
    expect(refused(join(input, '..', 'in', '.'))).toMatch(/is the input/);
    // Never a folder weft did not write, --overwrite or not; never a file.
    expect(refused(mine, { overwrite: true })).toMatch(/not empty and was not written by weft/);
    expect(refused(join(mine, 'notes.txt'), { overwrite: true })).toMatch(/is a file/);
  });

  it('takes a new or empty folder; a weft output only with overwrite; resumes equal settings', () => {
    expect(checkOutputDir(join(root, 'new', 'out'), o).state).toBe('absent');
    mkdirSync(join(root, 'empty'));
    expect(checkOutputDir(join(root, 'empty'), o).state).toBe('empty');
    const prev = join(root, 'prev');
    mkdirSync(prev);
    writeFileSync(join(prev, OUTPUT_MARKER), JSON.stringify({ weft: 1, command: 'process', settings: { a: 1 } }));
    expect(refused(prev)).toMatch(/earlier output of weft process; pass --overwrite/);
    expect(checkOutputDir(prev, { ...o, overwrite: true }).state).toBe('replace');
    expect(checkOutputDir(prev, { ...o, command: 'process', settings: { a: 1 } }).state).toBe('resume');
    expect(refused(prev, { command: 'process', settings: { a: 2 } })).toMatch(/with other settings/);
    // Outputs of weft before the marker: recognised by weft's own weft_stats.json, never resumed.
    const legacy = join(root, 'legacy');
    mkdirSync(join(legacy, 'packed'), { recursive: true });
    for (const f of ['summary.json', 'packed/weft_stats.json', 'packed/state.json'])
      writeFileSync(join(legacy, f), '{}');
    expect(refused(legacy, { command: 'process', settings: {} })).toMatch(
      /earlier output of weft process \(an earlier weft version\); pass --overwrite/,
    );
    expect(checkOutputDir(legacy, { ...o, overwrite: true }).state).toBe('replace');
  });
});

describe('StagedOutputDir', () => {
  it('appears whole with the marker, replaces only a marked folder with overwrite, leaves the rest', async () => {
    const { root, cwd, input, mine } = layout('staged');
    const out = join(root, 'out');
    const o = { command: 'pack', inputs: [input], cwd };
    const write = async (text: string, extra: object = {}): Promise<void> => {
      const st = await StagedOutputDir.create(out, { ...o, ...extra });
      writeFileSync(join(st.path, 'data.txt'), text);
      expect(
        existsSync(out) &&
          readdirSync(out).includes('data.txt') &&
          readFileSync(join(out, 'data.txt'), 'utf8') === text,
      ).toBe(false);
      await st.commit();
    };
    mkdirSync(out); // an empty folder is taken as it is
    await write('one');
    expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'data.txt']);
    expect(readOutputMarker(out)).toEqual({ weft: 1, command: 'pack' });
    await expect(write('two')).rejects.toThrow(/pass --overwrite/);
    await write('two', { overwrite: true });
    expect(readFileSync(join(out, 'data.txt'), 'utf8')).toBe('two');
    // Someone puts a folder of their own in the place while a run works: the commit refuses it.
    const late = await StagedOutputDir.create(join(root, 'late'), o);
    mkdirSync(join(root, 'late'));
    writeFileSync(join(root, 'late', 'theirs.txt'), 'theirs');
    await expect(late.commit()).rejects.toThrow(/not written by weft/);
    await late.abort();
    expect(readdirSync(join(root, 'late'))).toEqual(['theirs.txt']);
    expect(readdirSync(root).sort()).toEqual(['data', 'late', 'mine', 'out', 'work']);
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('mine');
  });
});

describe('claimOutputDir (in-place writers such as weft process)', () => {
  it('marks first, resumes equal settings, keeps its own folder on other settings with overwrite, wipes another command', async () => {
    const { root, cwd, input } = layout('claim');
    const out = join(root, 'out');
    const o = { command: 'process', inputs: [input], cwd, settings: { pack: true } };
    expect(await claimOutputDir(out, o)).toBe('absent');
    expect(readOutputMarker(out)).toEqual({ weft: 1, command: 'process', settings: { pack: true } });
    writeFileSync(join(out, 'summary.json'), '{}');
    expect(await claimOutputDir(out, o)).toBe('resume');
    await expect(claimOutputDir(out, { ...o, settings: { pack: false } })).rejects.toThrow(/other settings/);
    expect(await claimOutputDir(out, { ...o, settings: { pack: false }, overwrite: true })).toBe('replace');
    expect(readOutputMarker(out)?.settings).toEqual({ pack: false });
    expect(existsSync(join(out, 'summary.json'))).toBe(true); // the command itself drops its stale parts
    expect(await claimOutputDir(out, { ...o, command: 'demo', overwrite: true })).toBe('replace');
    expect(readdirSync(out)).toEqual([OUTPUT_MARKER]);
  });
});

describe('checkOutputFile', () => {
  it('never an input or a folder; an existing file only with overwrite or when it holds the same bytes', async () => {
    const { root, input } = layout('file');
    const inFile = join(input, 'a.bin');
    await expect(checkOutputFile(inFile, { inputs: [inFile], overwrite: true })).rejects.toThrow(/is the input/);
    await expect(checkOutputFile(input, { overwrite: true })).rejects.toThrow(/is a folder/);
    const f = join(root, 'order.txt');
    expect(await checkOutputFile(f)).toBe(false);
    writeFileSync(f, 'a\n');
    await expect(checkOutputFile(f)).rejects.toThrow(/exists; pass --overwrite/);
    expect(await checkOutputFile(f, { sameAs: 'a\n' })).toBe(true);
    expect(await checkOutputFile(f, { overwrite: true })).toBe(true);
  });
});

describe('claimSharedOutputDir (the tasks of one sharded job, started together)', () => {
  const settings = { input: '../data', max_length: 384 };
  const hostOf = (name: string): string => createHash('sha256').update(name).digest('hex').slice(0, 8);
  const otherHost = hostOf(`${hostname()}-elsewhere`);
  const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

  it("exactly one of many tasks creates the marker, the rest join; none takes the others' shards for a foreign folder", async () => {
    const { input, cwd } = layout('shared-race');
    for (let round = 0; round < 5; round++) {
      const out = join(base, 'shared-race', `out${round}`);
      // Each task claims, then at once starts its shard, as runProcessShard does.
      const task = async (i: number) => {
        const how = await claimSharedOutputDir(out, {
          command: 'process',
          settings,
          inputs: [input],
          cwd,
          keep: ['shards'],
        });
        mkdirSync(join(out, 'shards', `shard-${i}`), { recursive: true });
        return how;
      };
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => task(i)));
      expect(got.filter((h) => h === 'created')).toHaveLength(1);
      expect(got.filter((h) => h === 'joined')).toHaveLength(7);
      expect(readOutputMarker(out)).toEqual({ weft: 1, command: 'process', settings });
      expect(readdirSync(out).sort()).toEqual([OUTPUT_MARKER, 'shards']); // no marker temp left
      expect(readdirSync(join(out, 'shards'))).toHaveLength(8);
    }
  });

  it('other settings need --overwrite; it swaps the marker, keeps the job folder and live or foreign-host temps, never the folder itself', async () => {
    const { input, cwd, mine } = layout('shared-replace');
    const out = join(base, 'shared-replace', 'out');
    expect(
      await claimSharedOutputDir(out, { command: 'process', settings, inputs: [input], cwd, keep: ['shards'] }),
    ).toBe('created');
    mkdirSync(join(out, 'shards', 'shard-00000-of-00002'), { recursive: true });
    mkdirSync(join(out, 'samples', '0'), { recursive: true });
    writeFileSync(join(out, 'summary.json'), '{}');
    const dead = deadPid();
    const temps = {
      live: `.samples.tmp-${process.ppid}.${hostOf(hostname())}-00000001`,
      dead: `.samples.tmp-${dead}.${hostOf(hostname())}-00000002`,
      elsewhere: `.samples.tmp-${dead}.${otherHost}-00000003`,
    };
    for (const t of Object.values(temps)) mkdirSync(join(out, t));
    const other = {
      command: 'process',
      settings: { ...settings, max_length: 256 },
      inputs: [input],
      cwd,
      keep: ['shards'],
    };
    await expect(claimSharedOutputDir(out, other)).rejects.toThrow(
      /holds an earlier output of weft process with other settings.*--overwrite/,
    );
    expect(await claimSharedOutputDir(out, { ...other, overwrite: true })).toBe('replaced');
    expect(readOutputMarker(out)).toEqual({ weft: 1, command: 'process', settings: other.settings });
    // The old job's parts go; the shared folder (sorted out by the caller), a live task's temp and another host's stay.
    expect(readdirSync(out).sort()).toEqual([temps.live, temps.elsewhere, OUTPUT_MARKER, 'shards'].sort());
    // Now the new job's tasks join, --overwrite or not.
    expect(await claimSharedOutputDir(out, { ...other, overwrite: true })).toBe('joined');
    expect(await claimSharedOutputDir(out, other)).toBe('joined');
    // A folder weft did not write is never taken, --overwrite or not; nor an input.
    await expect(claimSharedOutputDir(mine, { ...other, overwrite: true })).rejects.toThrow(/not written by weft/);
    await expect(claimSharedOutputDir(input, { ...other, overwrite: true })).rejects.toThrow(/is the input/);
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
