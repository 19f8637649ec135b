/**
 * The options several commands share (`--tokenizer`, `--workers`, `--on-error`, `--seed`,
 * `--packed-length`) are core's, everywhere: same flags, same parser (same accepted values, same
 * range, same message), and a default only where the command documents one. Checked on the real
 * program, command by command, against core's definitions.
 */
import { describe, expect, it } from 'vitest';
import type { Command, Option } from 'commander';
import {
  DEFAULT_PACKED_LENGTH,
  DEFAULT_SEED,
  DEFAULT_WORKERS,
  MAX_WORKERS,
  onErrorOption,
  packedLengthOption,
  seedOption,
  tokenizerOption,
  workersOption,
} from '@weft/core';
import { buildProgram } from '../src/main.ts';

function commands(c: Command, prefix = ''): [string, Command][] {
  return c.commands.flatMap((s) => {
    const name = `${prefix}${s.name()}`;
    return [[name, s] as [string, Command], ...commands(s, `${name} `)];
  });
}

/** What a parser does with a value: the number/string it gives, or the message it throws. */
function outcome(o: Option, v: string): unknown {
  if (!o.parseArg) return v;
  try {
    return o.parseArg(v, undefined);
  } catch (e) {
    return (e as Error).message;
  }
}

const SHARED: Record<string, { core: Option; probes: string[] }> = {
  '--workers': {
    core: workersOption('x'),
    probes: ['0', '3', String(MAX_WORKERS), String(MAX_WORKERS + 1), '-1', 'abc', '2.0'],
  },
  '--on-error': { core: onErrorOption(), probes: ['fail', 'skip', 'ignore', ''] },
  '--seed': { core: seedOption(), probes: ['0', '1024', String(2 ** 32 - 1), String(2 ** 32), '-1', '1e3'] },
  '--packed-length': {
    core: packedLengthOption(),
    probes: ['1', '8192', String(2 ** 31 - 1), String(2 ** 31), '0', 'x'],
  },
  '--tokenizer': { core: tokenizerOption(), probes: ['default', 'some/folder'] },
};

/** The defaults each command documents for the shared options (undefined: none, or required). */
const DEFAULTS: Record<string, Record<string, unknown>> = {
  tokenize: { '--tokenizer': 'default', '--workers': DEFAULT_WORKERS, '--on-error': 'fail' },
  process: {
    '--tokenizer': 'default',
    '--workers': DEFAULT_WORKERS,
    '--on-error': 'fail',
    '--seed': DEFAULT_SEED,
    '--packed-length': DEFAULT_PACKED_LENGTH,
  },
  pack: { '--workers': 0, '--on-error': 'fail', '--seed': DEFAULT_SEED, '--packed-length': undefined },
  merge: { '--workers': 0 },
  inspect: { '--tokenizer': undefined, '--packed-length': DEFAULT_PACKED_LENGTH },
  demo: { '--workers': DEFAULT_WORKERS },
  generate: { '--tokenizer': undefined, '--seed': 0 },
};

/** Same flag, another meaning: not the shared option (each says why). */
const NOT_SHARED: Record<string, string> = {
  'convert internlm-to-hf --tokenizer':
    "a sentencepiece tokenizer.model file copied into the output (convert2hf.py's --tokenizer), not a tokenizer to load",
};

describe('shared options', () => {
  const all = commands(buildProgram());
  const uses = all.flatMap(([name, cmd]) =>
    cmd.options
      .filter((o) => o.long && o.long in SHARED && !(`${name} ${o.long}` in NOT_SHARED))
      .map((o) => ({ name, o })),
  );

  it('are found where expected (the check below is not vacuous)', () => {
    const seen: Record<string, string[]> = {};
    for (const { name, o } of uses) (seen[name] ??= []).push(o.long!);
    expect(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.sort()]))).toEqual(
      Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, Object.keys(v).sort()])),
    );
  });

  it.each(Object.keys(SHARED))("%s has core's flags and parser in every command", (flag) => {
    const { core, probes } = SHARED[flag]!;
    for (const { name, o } of uses.filter((u) => u.o.long === flag)) {
      expect(o.flags, `${name} ${flag}`).toBe(core.flags);
      for (const v of probes)
        expect(outcome(o, v), `weft ${name} ${flag} ${JSON.stringify(v)}`).toEqual(outcome(core, v));
    }
  });

  it('have the defaults each command documents', () => {
    for (const { name, o } of uses) {
      expect(o.defaultValue, `weft ${name} ${o.long}`).toBe(DEFAULTS[name]![o.long!]);
      if (DEFAULTS[name]![o.long!] === undefined && name === 'pack')
        expect(o.mandatory, `weft pack ${o.long} is required`).toBe(true);
    }
  });

  it('core rejects out-of-range values naming the option', () => {
    expect(outcome(workersOption('x'), '257')).toBe(`--workers must be an integer <= ${MAX_WORKERS}, got "257"`);
    expect(outcome(onErrorOption(), 'ignore')).toBe('--on-error must be one of fail, skip, got "ignore"');
    expect(outcome(seedOption(), String(2 ** 32))).toBe(
      `--seed must be an integer <= ${2 ** 32 - 1}, got "${2 ** 32}"`,
    );
  });
});
