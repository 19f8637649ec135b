import { spawnSync } from 'node:child_process';
import { resolvePython } from '../src/python.ts';
import { WORKER_DIR } from '../src/launch.ts';

/** The Python with torch the worker uses (Debian's /usr/bin/python3 here and in CI). */
export const TORCH_PYTHON = resolvePython().python;

/** Run a script with the worker package importable; returns stdout (throws with stderr on failure). */
export function runPython(args: string[], input?: Buffer | string, python = TORCH_PYTHON): string {
  const r = spawnSync(python, args, {
    input,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, PYTHONPATH: WORKER_DIR, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`${python} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export const PY_TESTS = new URL('../python/tests/', import.meta.url).pathname;
