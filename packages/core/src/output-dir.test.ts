import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutputFile } from './output-file.ts';
import { checkOutputDir, claimOutputDir, OUTPUT_MARKER, OutputDirError, readOutputMarker, StagedOutputDir } from './output-dir.ts';

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
    for (const f of ['summary.json', 'packed/weft_stats.json', 'packed/state.json']) writeFileSync(join(legacy, f), '{}');
    expect(refused(legacy, { command: 'process', settings: {} })).toMatch(/earlier output of weft process \(an earlier weft version\); pass --overwrite/);
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
      expect(existsSync(out) && readdirSync(out).includes('data.txt') && readFileSync(join(out, 'data.txt'), 'utf8') === text).toBe(false);
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
