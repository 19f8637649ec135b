import { expect, it } from 'vitest';
import { DataError, isDataError } from './errors.ts';

it('names the place: file, line and byte', () => {
  const e = new DataError('expected "tokens" array', { file: 'data/cn/a.bin', line: 1207, offset: 88123 });
  expect(e.message).toBe('data/cn/a.bin: line 1207 (byte 88123): expected "tokens" array');
  expect(new DataError('x', { file: 'a.npy', offset: 10 }).message).toBe('a.npy: byte 10: x');
  expect(isDataError(e)).toBe(true);
  expect(e.reason).toBe('invalid');
});
