import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { DataError } from '@weft/core';
import type { Topology } from './topology.ts';

/** Where the worker package lives (put on PYTHONPATH). */
export const WORKER_DIR = new URL('../python/', import.meta.url).pathname;

export interface LaunchOptions {
  python: string;
  topology: Topology;
  /** Arguments after `-m weft_worker.train`. */
  args: string[];
  /** Extra environment for every rank (WEFT_FEED etc.). */
  env: Record<string, string>;
  /** A line a rank printed (metrics lines come from rank 0). Data-error lines are not passed on. */
  onLine: (rank: number, line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * The caller prints every line it gets: a dead rank's error then points at its output above
   * instead of repeating its last lines (which would show a traceback twice).
   */
  echoesOutput?: boolean;
}

/** The prefix of the line a worker writes for bad data (python/weft_worker/data_error.py). */
export const DATA_ERROR_PREFIX = '@weft-data-error ';

/** A free TCP port on this machine for the rendezvous of a single-node run. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej).listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/**
 * Start this node's ranks with the torch.distributed environment set (what torchrun would set:
 * RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and supervise them:
 * resolves when all exit 0; if one dies, the others are stopped and the promise rejects naming
 * the rank, its exit code and its last stderr lines. `stop()` ends the run (Ctrl-C).
 * (Starting ranks directly, not through torchrun, sidesteps Debian torch 1.13's torchrun crash
 * under Python 3.11 and keeps each rank's output apart.)
 *
 * @example
 * const run = await launchRanks({ python, topology, args: ['--config', 'w.json'], env, onLine });
 * process.once('SIGINT', () => run.stop('Ctrl-C'));
 * await run.done;
 */
export async function launchRanks(o: LaunchOptions): Promise<{ done: Promise<void>; stop: (why: string) => void }> {
  const t = o.topology;
  const port = t.masterPort ?? (await freePort());
  const threads = Math.max(1, Math.floor(availableParallelism() / t.nprocPerNode));
  const children: ChildProcess[] = [];
  const tails = new Map<number, string[]>();
  const dataErrors = new Map<number, string>();
  let stopping: string | undefined;

  const kill = (sig: NodeJS.Signals): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  };
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = why;
    kill('SIGTERM');
    setTimeout(() => kill('SIGKILL'), 10_000).unref();
  };

  const exits = [];
  for (let local = 0; local < t.nprocPerNode; local++) {
    const rank = t.nodeRank * t.nprocPerNode + local;
    const env = {
      ...process.env,
      ...o.env,
      RANK: String(rank),
      LOCAL_RANK: String(local),
      WORLD_SIZE: String(t.worldSize),
      LOCAL_WORLD_SIZE: String(t.nprocPerNode),
      GROUP_RANK: String(t.nodeRank),
      MASTER_ADDR: t.masterAddr,
      MASTER_PORT: String(port),
      PYTHONPATH: [WORKER_DIR, process.env.PYTHONPATH].filter(Boolean).join(':'),
      PYTHONUNBUFFERED: '1',
      OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threads),
    };
    const child = spawn(o.python, ['-m', 'weft_worker.train', ...o.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const tail: string[] = [];
    tails.set(rank, tail);
    createInterface({ input: child.stdout! }).on('line', (l) => o.onLine(rank, l, 'stdout'));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      if (l.startsWith(DATA_ERROR_PREFIX)) {
        try {
          dataErrors.set(rank, (JSON.parse(l.slice(DATA_ERROR_PREFIX.length)) as { message: string }).message);
          return;
        } catch {
          /* not ours after all: treat as output */
        }
      }
      tail.push(l);
      if (tail.length > 20) tail.shift();
      o.onLine(rank, l, 'stderr');
    });
    exits.push(
      new Promise<{ rank: number; code: number | null; signal: NodeJS.Signals | null }>((res) => {
        child.once('error', (e) => {
          tail.push(String(e));
          res({ rank, code: 127, signal: null });
        });
        child.once('close', (code, signal) => res({ rank, code, signal }));
      }),
    );
  }

  const done = (async () => {
    let first: { rank: number; code: number | null; signal: NodeJS.Signals | null } | undefined;
    await Promise.all(
      exits.map((p) =>
        p.then((r) => {
          if ((r.code !== 0 || r.signal) && !first) {
            first = r;
            stop(`rank ${r.rank} died`);
          }
        }),
      ),
    );
    if (stopping && (!first || stopping === 'Ctrl-C'))
      throw new Error(`stopped (${stopping}); resume with --resume auto`);
    if (first) {
      // Bad data in any rank is the cause (the others were stopped because of it): one clean message.
      const bad = dataErrors.has(first.rank) ? first.rank : [...dataErrors.keys()][0];
      if (bad !== undefined)
        throw new DataError(dataErrors.get(bad)!, { file: `worker rank ${bad}` }, { reason: 'worker-data' });
      const how = first.signal ? `was killed by ${first.signal}` : `exited with code ${first.code}`;
      if (o.echoesOutput)
        throw new Error(
          `worker rank ${first.rank} ${how}; the run was stopped (its output is above, lines marked [rank ${first.rank}])`,
        );
      const tail = (tails.get(first.rank) ?? [])
        .slice(-12)
        .map((l) => `    ${l}`)
        .join('\n');
      throw new Error(
        `worker rank ${first.rank} ${how}; the run was stopped.${tail ? `\n  its last output:\n${tail}` : ''}`,
      );
    }
  })();
  return { done, stop };
}
