/**
 * Every option of every weft command that takes a number goes through core's strict parser:
 * bad values stop the command with exit code 2 and the option's name, before any work. Parsing is
 * checked in-process through the real program (`buildProgram`, actions replaced by a sentinel),
 * then a few real spawns check the exit codes and stderr end to end.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Command, Option } from 'commander';
import { seededRandom } from '@weft/core';
import { buildProgram, reportError } from '../src/main.ts';

const REPO = new URL('../../../', import.meta.url).pathname;
const WEFT = join(REPO, 'packages/cli/bin/weft.mjs');
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const work = mkdtempSync(join(tmpdir(), 'weft-options-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BIN_DIR = join(REPO, 'data/sample/tokenized');
const ALPACA = join(REPO, 'data/sample/alpaca/alpaca.json');
/** A valid command line per command that has numeric options; the option under test is appended. */
const BASE: Record<string, string[]> = {
  demo: ['demo'],
  tokenize: ['tokenize', '--text-input-path', ALPACA, '--bin-output-path', join(work, 't.bin'), '--format', 'alpaca'],
  pack: ['pack', BIN_DIR, '--packed-length', '64', '--out', join(work, 'p')],
  process: ['process', BIN_DIR, '--format', 'internlm', '--out', join(work, 'q')],
  inspect: ['inspect', BIN_DIR],
  merge: ['merge', BIN_DIR],
  train: ['train', 'tiny_cpu_demo'],
  generate: ['generate', BIN_DIR, '--prompt', 'hi'],
  'convert pth-to-hf': ['convert', 'pth-to-hf', BIN_DIR, BIN_DIR, join(work, 'hf')],
  'convert internlm-to-hf': ['convert', 'internlm-to-hf', BIN_DIR, join(work, 'ih')],
  'convert hf-to-turbomind': ['convert', 'hf-to-turbomind', 'm', BIN_DIR, '--dst-path', join(work, 'tm')],
};

class Ran extends Error {}

/** Parse `args` with the real program; the action is not run. Exit code as `weft` would give it, and what went to stderr. */
function parse(args: string[]): { code: number; err: string; opts?: Record<string, unknown> } {
  const program = buildProgram();
  let err = '';
  let opts: Record<string, unknown> | undefined;
  const quiet = (c: Command): void => {
    c.configureOutput({
      writeErr: (s) => {
        err += s;
      },
      writeOut: () => {},
    });
    c.commands.forEach(quiet);
  };
  quiet(program);
  program.hook('preAction', (_p, action) => {
    opts = action.opts();
    throw new Ran();
  });
  try {
    program.parse(['node', 'weft', ...args]);
    return { code: 0, err };
  } catch (e) {
    if (e instanceof Ran) return { code: 0, err, opts: opts! };
    return {
      code: reportError(e, (s) => {
        err += s;
      }),
      err,
    };
  }
}

/** [command path, option] for every option whose value is a number (`<n>`, `<bytes>`, `<size>`, `<r>`, `<p>`, `<t>`). */
function numericOptions(): [string, Option][] {
  const out: [string, Option][] = [];
  const walk = (c: Command, path: string[]): void => {
    for (const o of c.options) if (/<(n|bytes|size|r|p|t)>/.test(o.flags)) out.push([path.join(' '), o]);
    for (const sub of c.commands) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(), []);
  return out;
}

/** Options that take a fraction (ratios, LoRA alpha) rather than a count. */
function isDecimal(o: Option): boolean {
  if (/<(bytes|size)>/.test(o.flags)) return false;
  try {
    o.parseArg!('1.5', undefined);
    return true;
  } catch {
    return false;
  }
}

describe('weft option values', () => {
  const options = numericOptions();

  it('finds the numeric options of every command (and each has a valid base command line here)', () => {
    const names = options.map(([c, o]) => `${c} ${o.long}`);
    for (const must of [
      'tokenize --max-length',
      'tokenize --workers',
      'pack --packed-length',
      'pack --max-shard-size',
      'process --max-length',
      'convert hf-to-turbomind --tp',
      'train --nproc-per-node',
      'demo --workers',
      'inspect --index',
    ])
      expect(names).toContain(must);
    for (const [c] of options) expect(BASE[c], `no base command line for ${c}`).toBeDefined();
    for (const [c] of options) expect(parse(BASE[c]!).code, `base of ${c}: ${parse(BASE[c]!).err}`).toBe(0);
  });

  // The values of the issue: each was accepted (or crashed later) before.
  for (const bad of ['abc', '-5', '1e3', '0x10', ' 12', '12.0x', '', 'NaN', 'Infinity', '99999999999999999999999']) {
    it(`${JSON.stringify(bad)} is refused by every numeric option with exit 2 and the option's name`, () => {
      for (const [cmd, o] of options) {
        // A huge ratio or LoRA alpha is still a number; integers and sizes past 2^53 are not.
        if (bad.length > 20 && isDecimal(o)) continue;
        const r = parse([...BASE[cmd]!, o.long!, bad]);
        expect(r.code, `${cmd} ${o.long} ${bad}: ${r.err}`).toBe(2);
        expect(r.err, `${cmd} ${o.long}`).toContain(o.long!);
        expect(r.err).not.toMatch(/\n\s+at /);
      }
    });
  }

  it('unknown commands and options exit 2, help and --version 0', () => {
    expect(parse(['no-such-command']).code).toBe(2);
    expect(parse(['pack', BIN_DIR, '--packed-lenght', '8', '--out', join(work, 'o')]).code).toBe(2);
    expect(parse(['pack', BIN_DIR, '--out', join(work, 'o')]).err).toMatch(
      /required option '--packed-length <n>' not specified/,
    );
    expect(parse(['pack', '--help']).code).toBe(0);
    expect(parse(['--version']).code).toBe(0);
  });

  it('zero is refused where a count must be positive', () => {
    for (const [cmd, flag] of [
      ['tokenize', '--max-length'],
      ['pack', '--packed-length'],
      ['process', '--max-length'],
      ['convert hf-to-turbomind', '--tp'],
      ['train', '--total-steps'],
    ] as const) {
      const r = parse([...BASE[cmd]!, flag, '0']);
      expect(r.code, `${cmd} ${flag} 0`).toBe(2);
      expect(r.err).toMatch(new RegExp(`${flag} must be an integer >= 1, got "0"`));
    }
    expect(parse([...BASE['convert hf-to-turbomind']!, '--tp', '3']).err).toMatch(/--tp must be a power of two/);
  });

  it('enums and paths: --on-error, --format, --backend, --dtype, --data-order, missing input folders', () => {
    const cases: [string[], RegExp][] = [
      [[...BASE.pack!, '--on-error', 'ignore'], /--on-error must be one of fail, skip, got "ignore"/],
      [[...BASE.process!, '--format', 'jsonl'], /--format must be one of ftdp, internlm/],
      [[...BASE.tokenize!, '--backend', 'rust'], /--backend must be one of auto, fast, native, js, sentencepiece/],
      [[...BASE['convert hf-to-turbomind']!, '--dtype', 'fp8'], /--dtype must be one of auto, float16, bfloat16/],
      [[...BASE.pack!, '--data-order', join(work, 'nope.txt')], /--data-order: .*nope\.txt does not exist/],
      [
        ['pack', join(work, 'nope'), '--packed-length', '8', '--out', join(work, 'x')],
        /<bin-folder>: .*nope does not exist/,
      ],
      [
        ['tokenize', '--text-input-path', join(work, 'nope.json'), '--bin-output-path', join(work, 'y.bin')],
        /--text-input-path: .*nope\.json does not exist/,
      ],
    ];
    for (const [args, msg] of cases) {
      const r = parse(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });

  it(`seeded fuzz (FUZZ_SEED=${SEED}): a value is either refused with exit 2 naming the option, or is the plain number it spells`, () => {
    const r = seededRandom(SEED);
    const alphabet = [
      '0',
      '1',
      '2',
      '5',
      '9',
      '-',
      '+',
      '.',
      'e',
      'E',
      'x',
      'b',
      ' ',
      '_',
      'K',
      'M',
      'G',
      'i',
      'B',
      ',',
      '١',
      '\u00a0',
      'a',
    ];
    for (let k = 0; k < 300; k++) {
      const [cmd, o] = options[Math.floor(r() * options.length)]!;
      const value = Array.from(
        { length: 1 + Math.floor(r() * 8) },
        () => alphabet[Math.floor(r() * alphabet.length)],
      ).join('');
      const res = parse([...BASE[cmd]!, o.long!, value]);
      const label = `seed ${SEED} #${k}: ${cmd} ${o.long} ${JSON.stringify(value)}: ${res.err}`;
      expect([0, 2], label).toContain(res.code);
      expect(res.err, label).not.toMatch(/\n\s+at /);
      if (res.code === 2) {
        expect(res.err, label).toContain(o.long!);
        continue;
      }
      const v = res.opts![o.attributeName()];
      expect(Number.isFinite(v), label).toBe(true);
      // Accepted text is digits, with a decimal point only for ratios and a unit only for sizes.
      expect(value, label).toMatch(
        /<(bytes|size)>/.test(o.flags)
          ? /^[0-9]+(\.[0-9]+)?([KMG]i?B|B)?$/i
          : isDecimal(o)
            ? /^-?[0-9]+(\.[0-9]+)?$/
            : /^-?[0-9]+$/,
      );
    }
  });
});

describe('weft exit codes end to end (real spawns)', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [WEFT, ...args], { encoding: 'utf8', cwd: work });

  it('tokenize --max-length abc: exit 2 naming the option, nothing written, input untouched (was: exit 0 and empty token lines)', () => {
    const before = createHash('sha256').update(readFileSync(ALPACA)).digest('hex');
    const out = join(work, 'abc.bin');
    const r = run([
      'tokenize',
      '--text-input-path',
      ALPACA,
      '--bin-output-path',
      out,
      '--format',
      'alpaca',
      '--max-length',
      'abc',
    ]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--max-length must be an integer .*got "abc"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
    expect(createHash('sha256').update(readFileSync(ALPACA)).digest('hex')).toBe(before);
  });

  it('options that do not go together (a UsageError from the action) exit 2 with the reason', () => {
    const split = run([
      'tokenize',
      '--text-input-path',
      ALPACA,
      '--bin-output-path',
      join(work, 's.bin'),
      '--split-ratio',
      '0.1',
    ]);
    expect(split.status, split.stderr).toBe(2);
    expect(split.stderr).toMatch(/--split-ratio needs --format/);
  });
});
