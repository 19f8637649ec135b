import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** This host, in temp names, so that a run never judges a pid of another machine (shared file systems). */
const HOST = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** Temp names this process made and has not yet committed or dropped: its own live work. */
const live = new Set<string>();

/**
 * A fresh temp name beside `path` (`.<name>.tmp-<pid>.<host>-<random>`), registered as live work
 * of this process until {@link releaseTemp}. Hidden and shaped so {@link removeStaleTemps} can
 * recognise it later if this process dies before committing.
 *
 * @example
 * const tmp = tempPathFor('out/packed'); // out/.packed.tmp-4242.1a2b3c4d-9f8e7d6c
 */
export function tempPathFor(path: string): string {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}.${HOST}-${randomBytes(4).toString('hex')}`);
  live.add(tmp);
  return tmp;
}

/** Forget a temp name (it was renamed to its final name or removed). */
export function releaseTemp(tmp: string): void {
  live.delete(tmp);
}

/** What a weft temp name says: the final name it was for, the pid and host that made it. */
export interface TempName {
  of: string;
  pid: number;
  host: string | undefined;
}

/**
 * Parse a weft temp name. Also recognises the names earlier weft versions used
 * (`.<name>.tmp-<pid>`, `.<name>.tmp-<pid>-<hex>`, `.<name>.weft-tmp-<pid>`), which carry no host.
 *
 * @example
 * parseTempName('.packed.tmp-4242.1a2b3c4d-9f8e7d6c'); // { of: 'packed', pid: 4242, host: '1a2b3c4d' }
 * parseTempName('notes.txt'); // undefined
 */
export function parseTempName(name: string): TempName | undefined {
  const m = /^\.(.+)\.(?:weft-)?tmp-(\d+)(?:\.([0-9a-f]{8}))?(?:-[0-9a-f]+)?$/.exec(name);
  if (!m) return undefined;
  return { of: m[1]!, pid: Number(m[2]), host: m[3] };
}

/** Whether a process with this pid exists on this host (one of another user counts too). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a temp entry of `dir` belongs to a run that can no longer finish it: made on this host
 * by a pid that is dead, or by this very pid (reused after a kill, common in containers) but not
 * by this process. Live runs' temps, and any other host's, are left alone.
 */
export function isStaleTemp(dir: string, name: string): boolean {
  const t = parseTempName(name);
  if (!t) return false;
  if (t.host !== undefined && t.host !== HOST) return false;
  if (t.pid === process.pid) return !live.has(join(dir, name));
  return !pidAlive(t.pid);
}

/**
 * Remove temp files and folders that killed weft runs left in `dir` (hidden, never under a
 * final name). Only weft's own temp names are touched, only stale ones (see {@link isStaleTemp}),
 * and with `of` only the temps of that final name: a user's folder beside an output keeps
 * everything else. Returns the names removed.
 *
 * @example
 * await removeStaleTemps('out');                 // inside a folder weft owns: every stale temp
 * await removeStaleTemps('data', { of: 'packed' }); // beside an output: only .packed.tmp-*
 */
export async function removeStaleTemps(dir: string, opts: { of?: string } = {}): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const e of await readdir(dir)) {
    const t = parseTempName(e);
    if (!t || (opts.of !== undefined && t.of !== opts.of) || !isStaleTemp(dir, e)) continue;
    await rm(join(dir, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed;
}
