import { vi } from 'vitest';

/** Run `fn` with stderr captured and a plain progress line at every update (as in a log); the lines written. */
export async function stderrOf(fn: () => Promise<unknown>): Promise<string[]> {
  const out: string[] = [];
  vi.stubEnv('WEFT_PROGRESS_INTERVAL', '0');
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  const tty = process.stderr.isTTY;
  process.stderr.isTTY = false;
  try {
    await fn();
  } finally {
    spy.mockRestore();
    process.stderr.isTTY = tty;
    vi.unstubAllEnvs();
  }
  return out.join('').trimEnd().split('\n');
}
