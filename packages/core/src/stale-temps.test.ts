import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AtomicFile } from './atomic.ts';
import { parseTempName, removeStaleTemps, tempPathFor } from './stale-temps.ts';

const base = mkdtempSync(join(tmpdir(), 'weft-stale-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A pid that surely belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  return r.pid!;
}

describe('stale temp names', () => {
  it('parses the names weft writes now and the ones earlier versions left', () => {
    expect(parseTempName('.packed.tmp-4242.1a2b3c4d-9f8e7d6c')).toEqual({ of: 'packed', pid: 4242, host: '1a2b3c4d' });
    expect(parseTempName('.a.bin.tmp-17-0badf00d')).toEqual({ of: 'a.bin', pid: 17, host: undefined });
    expect(parseTempName('.packed.tmp-17')).toEqual({ of: 'packed', pid: 17, host: undefined });
    expect(parseTempName('.ws.weft-tmp-17')).toEqual({ of: 'ws', pid: 17, host: undefined });
    for (const n of ['packed', '.packed', 'notes.tmp-12', '.x.tmp-', '.x.tmp-12z', '.x.swp'])
      expect(parseTempName(n), n).toBeUndefined();
  });

  it("removes dead runs' temps only: live runs', other hosts', other outputs' and users' files stay", async () => {
    const dir = join(base, 'a');
    mkdirSync(dir);
    const dead = deadPid();
    const alive = process.ppid; // the test runner: alive, and not this process
    const names = {
      deadFolder: `.packed.tmp-${dead}`, // what a killed `weft pack` leaves today
      deadFile: `.packed.tmp-${dead}-0badf00d`,
      liveRun: `.packed.tmp-${alive}`,
      otherHost: `.packed.tmp-${dead}.ffffffff-00000000`,
      otherOutput: `.notes.tmp-${dead}`,
      user: 'notes.txt',
      userHidden: '.packed.tmp-x',
    };
    mkdirSync(join(dir, names.deadFolder));
    writeFileSync(join(dir, names.deadFolder, 'shard-0'), 'x');
    for (const n of [names.deadFile, names.liveRun, names.otherHost, names.otherOutput, names.user, names.userHidden])
      writeFileSync(join(dir, n), 'x');
    // This very process's own live temp is kept; the same pid's unregistered temp (a pid reused after a kill) is not.
    const mine = await AtomicFile.create(join(dir, 'packed'));
    const reused = `.packed.tmp-${process.pid}-deadbeef`;
    writeFileSync(join(dir, reused), 'x');

    expect((await removeStaleTemps(dir, { of: 'packed' })).sort()).toEqual(
      [names.deadFile, names.deadFolder, reused].sort(),
    );
    expect(readdirSync(dir).sort()).toEqual(
      [
        names.liveRun,
        names.otherHost,
        names.otherOutput,
        names.user,
        names.userHidden,
        mine.tmp.slice(dir.length + 1),
      ].sort(),
    );
    // Without `of` (inside a folder weft owns), every stale weft temp goes, still not the live ones.
    expect(await removeStaleTemps(dir)).toEqual([names.otherOutput]);
    await mine.commit();
    expect(readdirSync(dir).sort()).toEqual(
      [names.liveRun, names.otherHost, names.user, names.userHidden, 'packed'].sort(),
    );
  });

  it('names temps beside the path, hidden, with this pid', () => {
    const t = tempPathFor(join(base, 'out', 'packed'));
    const p = parseTempName(t.slice(join(base, 'out').length + 1));
    expect(p).toMatchObject({ of: 'packed', pid: process.pid });
    expect(p!.host).toMatch(/^[0-9a-f]{8}$/);
  });
});
