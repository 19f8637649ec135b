import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runProcess } from '../src/process.ts';
import { makeShardInput, sameTree, SHARD_JOB, SHARD_JOB_ARGS, tree } from './shard-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// A real single-node Slurm cluster (slurmctld + slurmd + munged, all state in a temp folder),
// started and stopped by tools/slurm/local-cluster.sh. .ci/run installs the Debian packages.
const CLUSTER = new URL('../../../tools/slurm/local-cluster.sh', import.meta.url).pathname;
const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
// The scripts docs/SCALE-OUT.md gives users, run as they are.
const PROCESS_SBATCH = new URL('../../../examples/scale-out/weft-process.sbatch', import.meta.url).pathname;
const MERGE_SBATCH = new URL('../../../examples/scale-out/weft-merge.sbatch', import.meta.url).pathname;

const base = tempDir('weft-slurm-');
const cluster = join(base, 'cluster');
const env = { ...process.env, SLURM_CONF: join(cluster, 'slurm.conf'), WEFT: `${process.execPath} ${WEFT}` };

function logs(): string {
  const dir = join(cluster, 'log');
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-3000)}`)
    .join('\n');
}

function sbatch(args: string[]): string {
  try {
    return execFileSync('sbatch', ['--parsable', '-o', join(cluster, 'log', 'job-%A_%a.out'), ...args], {
      env,
      encoding: 'utf8',
      timeout: 240_000,
    }).trim();
  } catch (e) {
    throw new Error(`sbatch ${args.join(' ')} failed: ${(e as Error).message}\n${logs()}`);
  }
}

/** A TCP port free right now: this cluster does not collide with another one (or one a killed run left). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

beforeAll(async () => {
  const ports = { WEFT_SLURMCTLD_PORT: String(await freePort()), WEFT_SLURMD_PORT: String(await freePort()) };
  execFileSync(CLUSTER, ['start', cluster], {
    env: { ...process.env, ...ports },
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 90_000,
  });
}, 120_000);

afterAll(() => {
  // Stop exactly the daemons this test started, then remove their state: a rerun starts clean.
  try {
    execFileSync(CLUSTER, ['stop', cluster], { stdio: 'inherit', timeout: 60_000 });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}, 90_000);

describe('weft process --shard auto on a real Slurm cluster', () => {
  it('a job array of 4 tasks and a dependent merge job give the bytes of one process', async () => {
    const input = makeShardInput(join(base, 'in'));
    expect(execFileSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8' }).trim()).toBe('idle');
    const out = join(base, 'out');
    const array = sbatch(['--array=0-3', '--cpus-per-task=1', '--wait', PROCESS_SBATCH, input, out, ...SHARD_JOB_ARGS]);
    expect(
      readdirSync(join(out, 'shards'))
        .filter((n) => !n.startsWith('.'))
        .sort(),
    ).toEqual([0, 1, 2, 3].map((i) => `shard-0000${i}-of-00004`));
    const jobId = array.split(';')[0]!;
    const merge = sbatch([`--dependency=afterok:${jobId}`, '--cpus-per-task=1', '--wait', MERGE_SBATCH, out]);
    const mergeLog = readdirSync(join(cluster, 'log')).find((f) => f.startsWith(`job-${merge}_`))!;
    expect(readFileSync(join(cluster, 'log', mergeLog), 'utf8')).toMatch(
      /^merge: 4 shards, 4 splits, 9 Arrow files linked/m,
    );
    const taskLog = readFileSync(join(cluster, 'log', `job-${jobId}_2.out`), 'utf8');
    expect(taskLog).toMatch(/^shard 2\/4: \d+ units/m); // the one-line summary of the task

    await runProcess({ input, ...SHARD_JOB, out: join(base, 'single') });
    const single = tree(join(base, 'single'));
    expect(single.has('packed/state.json')).toBe(true);
    expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
  }, 300_000);
});
