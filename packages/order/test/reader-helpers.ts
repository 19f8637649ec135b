// Shared by the reader tests: files in a temp folder, the stage balance, and the DataError a read ends in.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { DataError, type StageStats } from '@weft/core';

/** A writer of named files under `dir` that returns each file's path. */
export function fileWriter(dir: string): (name: string, content: string | Buffer) => string {
  return (name, content) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
}

/** Records in = records out + records reported. */
export function balanced(stats: StageStats): void {
  const s = stats.toJSON();
  expect(s.seen).toBe(s.emitted + Object.values(s.rejected).reduce((a, b) => a + b, 0));
}

/** The DataError `p` rejects with (fails the test if it resolves or throws something else). */
export async function failure(p: Promise<unknown>): Promise<DataError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DataError);
  return e as DataError;
}
