import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { AtomicFile, writeFileAtomic } from './atomic.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

it('writes whole files and leaves no temp file behind', async () => {
  const dir = tempDir('weft-atomic-');
  await writeFileAtomic(join(dir, 'sub', 'a.txt'), 'hello');
  expect(readFileSync(join(dir, 'sub', 'a.txt'), 'utf8')).toBe('hello');
  expect(readdirSync(join(dir, 'sub'))).toEqual(['a.txt']);
});

it('shows a streamed file under its name only after commit', async () => {
  const dir = tempDir('weft-atomic-');
  const w = await AtomicFile.create(join(dir, 'b.bin'), { bufferSize: 8 });
  await w.write('0123456789'); // larger than the buffer
  await w.write(new Uint8Array([65, 66]));
  expect(readdirSync(dir).includes('b.bin')).toBe(false);
  await w.commit();
  expect(readFileSync(join(dir, 'b.bin'), 'utf8')).toBe('0123456789AB');
  const a = await AtomicFile.create(join(dir, 'c.bin'));
  await a.write('x');
  await a.abort();
  expect(readdirSync(dir).sort()).toEqual(['b.bin']);
});
