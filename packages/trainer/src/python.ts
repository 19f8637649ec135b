import { spawnSync } from 'node:child_process';

/** A Python that can run the worker: its path, torch version and visible GPUs. */
export interface PythonInfo {
  python: string;
  torch: string;
  cudaDevices: number;
}

const PROBE =
  'import torch,sys; print(torch.__version__, torch.cuda.device_count() if torch.cuda.is_available() else 0)';

const probed = new Map<string, PythonInfo | undefined>();

/** Start `python` once per process to ask for torch (about a second each: `import torch`). */
function probe(python: string): PythonInfo | undefined {
  if (!probed.has(python)) probed.set(python, probeOnce(python));
  return probed.get(python);
}

function probeOnce(python: string): PythonInfo | undefined {
  const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 || !r.stdout) return undefined;
  const [torch, n] = r.stdout.trim().split(/\s+/);
  return { python, torch: torch!, cudaDevices: Number(n) || 0 };
}

/**
 * Find the Python that runs the worker: `--python`, else `$WEFT_PYTHON`, else the first of
 * python3, /usr/bin/python3, python that can `import torch` (Debian's python3-torch lives in
 * /usr/bin/python3, often not the python3 first on PATH).
 *
 * @example
 * const { python, torch } = resolvePython(opts.python);
 */
export function resolvePython(explicit?: string): PythonInfo {
  const given = explicit ?? process.env.WEFT_PYTHON;
  if (given) {
    const info = probe(given);
    if (!info)
      throw new Error(
        `${given} cannot \`import torch\`: install PyTorch there or pick another interpreter with --python / WEFT_PYTHON`,
      );
    return info;
  }
  for (const cand of ['python3', '/usr/bin/python3', 'python']) {
    const info = probe(cand);
    if (info) return info;
  }
  throw new Error(
    'no Python with PyTorch found (tried python3, /usr/bin/python3, python). Install PyTorch (Debian: apt-get install python3-torch) or pass --python / set WEFT_PYTHON',
  );
}
