import { execFileSync } from 'node:child_process';

/** Run a Python snippet with python3 (numpy required) and return its stdout bytes. */
export function python(script: string, args: string[] = []): Buffer {
  return execFileSync('python3', ['-c', script, ...args], { maxBuffer: 1 << 28 });
}
