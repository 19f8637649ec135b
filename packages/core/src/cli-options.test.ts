import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { byteSize, decimal, existingPath, integer, oneOf, OptionError } from './cli-options.ts';

/** The message a parser throws for `v`, or 'ok:<value>'. */
function outcome(parse: (v: string) => unknown, v: string): string {
  try {
    return `ok:${String(parse(v))}`;
  } catch (e) {
    expect(e).toBeInstanceOf(OptionError);
    expect((e as OptionError).exitCode).toBe(2);
    return (e as Error).message;
  }
}

describe('integer', () => {
  const maxLength = integer('--max-length', { min: 1, max: 2 ** 31 - 1 });
  it('accepts plain decimal digits in range', () => {
    expect(maxLength('2048')).toBe(2048);
    expect(maxLength('1')).toBe(1);
    expect(integer('--offset', { min: -10 })('-5')).toBe(-5);
  });
  // Each of these got through Number()/parseInt() before: 1e3 → 1000, 0x10 → 16, ' 12' → 12, '12.0' → 12, 'abc' → NaN.
  for (const bad of [
    'abc',
    '',
    ' 12',
    '12 ',
    '12.0',
    '1e3',
    '0x10',
    '0b1',
    '+5',
    '1_000',
    'Infinity',
    'NaN',
    '12abc',
    '９',
  ]) {
    it(`rejects ${JSON.stringify(bad)} naming the option`, () => {
      expect(outcome(maxLength, bad)).toMatch(/^--max-length must be an integer in plain decimal digits .*got "/);
    });
  }
  it('rejects values out of range, naming the bound', () => {
    expect(outcome(maxLength, '0')).toBe('--max-length must be an integer >= 1, got "0"');
    expect(outcome(maxLength, '-5')).toBe('--max-length must be an integer >= 1, got "-5"');
    expect(outcome(maxLength, '2147483648')).toBe('--max-length must be an integer <= 2147483647, got "2147483648"');
    expect(outcome(maxLength, '99999999999999999999')).toMatch(
      /--max-length must be an integer in plain decimal digits/,
    );
  });
});

describe('decimal, byteSize, oneOf, existingPath', () => {
  it('decimal: plain numbers only, in range', () => {
    const ratio = decimal('--split-ratio', { min: 0, max: 1 });
    expect(ratio('0.25')).toBe(0.25);
    expect(outcome(ratio, '1.5')).toBe('--split-ratio must be a number <= 1, got "1.5"');
    for (const bad of ['.5', '5e-1', 'NaN', '', '0x1'])
      expect(outcome(ratio, bad)).toMatch(/^--split-ratio must be a decimal number/);
  });
  it('byteSize: bytes or transformers-style units', () => {
    const size = byteSize('--max-shard-size', { min: 1 });
    expect(size('4096')).toBe(4096);
    expect(size('500MB')).toBe(500e6);
    expect(size('4GiB')).toBe(4 * 2 ** 30);
    expect(size('1.5kb')).toBe(1500);
    expect(outcome(size, '0')).toBe('--max-shard-size must be a size >= 1, got "0"');
    for (const bad of ['2 GB', 'GB', '-1', '1e9', '0x10'])
      expect(outcome(size, bad)).toMatch(/^--max-shard-size must be a size in bytes/);
  });
  it('oneOf lists the choices', () => {
    expect(oneOf('--on-error', ['fail', 'skip'])('skip')).toBe('skip');
    expect(outcome(oneOf('--on-error', ['fail', 'skip']), 'Skip')).toBe(
      '--on-error must be one of fail, skip, got "Skip"',
    );
  });
  it('existingPath checks existence and kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-opt-'));
    try {
      const f = join(dir, 'a.txt');
      writeFileSync(f, 'x');
      expect(existingPath('--data-order', 'file')(f)).toBe(f);
      expect(outcome(existingPath('--data-order', 'file'), dir)).toBe(`--data-order: ${dir} is not a file`);
      expect(outcome(existingPath('<folder>', 'dir'), f)).toBe(`<folder>: ${f} is not a folder`);
      expect(outcome(existingPath('<folder>'), join(dir, 'nope'))).toBe(
        `<folder>: ${join(dir, 'nope')} does not exist`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('through commander', () => {
  it('a bad value stops parsing with exit code 2 and the option in the message', () => {
    let err = '';
    const cmd = new Command('t')
      .exitOverride()
      .configureOutput({
        writeErr: (s) => {
          err += s;
        },
        writeOut: () => {},
      })
      .option('--tp <n>', 'ranks', integer('--tp', { min: 1 }), 1)
      .action(() => {});
    expect(() => cmd.parse(['--tp', 'abc'], { from: 'user' })).toThrow(
      expect.objectContaining({ exitCode: 2, code: 'commander.invalidArgument' }),
    );
    expect(err).toMatch(/option '--tp <n>' argument 'abc' is invalid\. --tp must be an integer/);
    cmd.parse(['--tp', '4'], { from: 'user' });
    expect(cmd.opts().tp).toBe(4);
  });
});
