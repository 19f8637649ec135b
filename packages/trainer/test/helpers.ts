import { spawnSync } from 'node:child_process';
import { resolvePython } from '../src/python.ts';
import { WORKER_DIR } from '../src/launch.ts';
import type { TrainConfig } from '../src/config.ts';

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

/**
 * A named config with its model swapped for a tiny folder and its data for synthetic packs (64-token
 * packs, one per step); the architecture switches (varlen, pack_sample_into_one, optimizer, clipping)
 * stay as the config has them. Constant learning rate `lr`; `checkpointEvery` 0 = only at the end.
 */
export function shrinkConfig(
  c: TrainConfig,
  model: string,
  workDir: string,
  o: { vocabSize: number; totalSteps: number; lr: number; checkpointEvery: number },
): TrainConfig {
  return {
    ...c,
    model: { path: model },
    dataset: { kind: 'synthetic', numPacks: 8, vocabSize: o.vocabSize, meanDocLength: 20 },
    dataOrderPath: undefined,
    validation: undefined,
    maxLength: 64,
    packedLength: 64,
    microBatchSize: 1,
    accumulativeCounts: 1,
    totalSteps: o.totalSteps,
    epochs: undefined,
    lr: o.lr,
    warmupRatio: 0,
    etaMin: o.lr,
    checkpointEvery: o.checkpointEvery,
    workDir,
  };
}
