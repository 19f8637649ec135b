import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../../tools/test/temp-dir.ts';

/** tools/convert, where the Python fixture makers and readers live. */
export const TOOLS = fileURLToPath(new URL('../../../tools/convert/', import.meta.url));
/** The Python with PyTorch (Debian python3-torch), as CI installs it. */
export const TORCH_PYTHON = '/usr/bin/python3';

export function py(
  script: string,
  args: string[],
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(TORCH_PYTHON, [script === '-' ? '-' : join(TOOLS, script), ...args], { encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tmp(prefix = 'weft-convert-'): string {
  return tempDir(prefix);
}

let made: string | undefined;
/** Generate the checkpoints of make_fixtures.py (once per test file) and return their folder. */
export function fixtures(): string {
  if (made) return made;
  const dir = tmp('weft-convert-fx-');
  const r = py('make_fixtures.py', [dir]);
  if (r.status !== 0) throw new Error(`make_fixtures.py failed: ${r.stderr}`);
  made = dir;
  return dir;
}

/** Compare a safetensors output with an expected state dict through the stdlib Python reader. */
export function compare(expected: string, out: string, dtype?: string): { tensors: number; problems: string[] } {
  const r = py('compare.py', [expected, out, ...(dtype ? ['--dtype', dtype] : [])]);
  if (r.status !== 0 && r.status !== 1) throw new Error(`compare.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { tensors: number; problems: string[] };
}

/** Many comparisons in one Python process (torch imports once): [expected, out, dtype?][] → results in order. */
export function compareMany(pairs: [string, string, string | undefined][]): { tensors: number; problems: string[] }[] {
  const r = py('compare.py', ['--batch'], JSON.stringify(pairs.map(([e, o, d]) => [e, o, d ?? null])));
  if (r.status !== 0) throw new Error(`compare.py --batch failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { tensors: number; problems: string[] }[];
}
