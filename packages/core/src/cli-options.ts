import { statSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PACKED_LENGTH, DEFAULT_SEED, DEFAULT_WORKERS, MAX_WORKERS } from './defaults.ts';

/**
 * A bad command-line value. Commander prints it after "option '--x <n>' argument 'v' is invalid."
 * and exits with `exitCode`: 2, weft's code for bad input (a data error exits 2 too; 1 is left to
 * failures of the run itself).
 *
 * @example
 * throw new OptionError('--tp must be a power of two, got 3');
 */
export class OptionError extends InvalidArgumentError {
  constructor(message: string) {
    super(message);
    this.exitCode = 2;
  }
}

/** Exit code of weft for bad input: bad options, bad data. */
export const EXIT_BAD_INPUT = 2;

/**
 * Options that are each fine but do not go together, or a check that needs the action to run
 * (a file's contents). `weft` prints the message and exits 2, like a bad option value.
 *
 * @example
 * if (o.splitRatio !== undefined && !o.format) throw new UsageError('--split-ratio needs --format (e.g. --format alpaca)');
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** True for a {@link UsageError} (also one from another copy of this module). */
export function isUsageError(e: unknown): e is UsageError {
  return e instanceof Error && e.name === 'UsageError';
}

/** Bounds of a numeric option (inclusive). */
export interface Range {
  min?: number;
  max?: number;
}

const DIGITS = /^-?[0-9]+$/;
const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

function bounds(name: string, n: number, raw: string, r: Range, kind: string): number {
  if (r.min !== undefined && n < r.min) throw new OptionError(`${name} must be ${kind} >= ${r.min}, got "${raw}"`);
  if (r.max !== undefined && n > r.max) throw new OptionError(`${name} must be ${kind} <= ${r.max}, got "${raw}"`);
  return n;
}

/**
 * Parser of an integer option: plain decimal digits only (no `1e3`, `0x10`, `12.0`, spaces or
 * empty string, which `Number` and `parseInt` would let through), within `range`.
 *
 * @example
 * program.option('--max-length <n>', 'tokens per sample', integer('--max-length', { min: 1 }), 32768);
 * integer('--tp', { min: 1 })('abc'); // throws OptionError: --tp must be an integer ..., got "abc"
 */
export function integer(name: string, range: Range = {}): (value: string) => number {
  return (v) => {
    const n = DIGITS.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) {
      throw new OptionError(`${name} must be an integer in plain decimal digits (e.g. 2048), got "${v}"`);
    }
    return bounds(name, n, v, range, 'an integer');
  };
}

/**
 * Parser of a decimal number option (`0.1`, `16`; no exponents, hex, NaN or Infinity), within `range`.
 *
 * @example
 * program.option('--split-ratio <r>', 'validation share', decimal('--split-ratio', { min: 0, max: 1 }));
 */
export function decimal(name: string, range: Range = {}): (value: string) => number {
  return (v) => {
    if (!DECIMAL.test(v)) throw new OptionError(`${name} must be a decimal number (e.g. 0.5), got "${v}"`);
    return bounds(name, Number(v), v, range, 'a number');
  };
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/**
 * A byte size as transformers reads shard sizes: a number of bytes, or with a unit (`500MB` =
 * 500·10^6, `4GiB` = 4·2^30); NaN when `v` is not one.
 *
 * @example
 * bytesOf('2GB'); // 2000000000
 */
export function bytesOf(v: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGT]i?B|B)?$/i.exec(v);
  return m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'B').toUpperCase()]!) : NaN;
}

/**
 * Parser of a byte size: a number of bytes, or with a unit as transformers reads shard sizes
 * (`500MB` = 500·10^6, `4GiB` = 4·2^30), within `range`.
 *
 * @example
 * program.option('--max-shard-size <size>', 'bytes per shard', byteSize('--max-shard-size', { min: 1 }), 500 * 2 ** 20);
 * byteSize('--max-shard-size')('2GB'); // 2000000000
 */
export function byteSize(name: string, range: Range = {}): (value: string) => number {
  return (v) => {
    const n = bytesOf(v);
    if (!Number.isSafeInteger(n))
      throw new OptionError(`${name} must be a size in bytes, e.g. 524288000, 500MB or 4GiB, got "${v}"`);
    return bounds(name, n, v, range, 'a size');
  };
}

/**
 * Parser of an option with a fixed set of values.
 *
 * @example
 * program.option('--on-error <policy>', 'fail | skip', oneOf('--on-error', ['fail', 'skip'] as const), 'fail');
 */
export function oneOf<T extends string>(name: string, choices: readonly T[]): (value: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new OptionError(`${name} must be one of ${choices.join(', ')}, got "${v}"`);
    return v as T;
  };
}

/**
 * Parser of a path that must already exist (a file, a folder, or either).
 *
 * @example
 * program.option('--data-order <file>', 'data_order.txt', existingPath('--data-order', 'file'));
 */
export function existingPath(name: string, kind: 'file' | 'dir' | 'any' = 'any'): (value: string) => string {
  return (v) => {
    if (v === '')
      throw new OptionError(
        `${name} must name a ${kind === 'dir' ? 'folder' : kind === 'file' ? 'file' : 'path'}, got ""`,
      );
    const st = statSync(v, { throwIfNoEntry: false });
    if (!st) throw new OptionError(`${name}: ${v} does not exist`);
    if (kind === 'file' && !st.isFile()) throw new OptionError(`${name}: ${v} is not a file`);
    if (kind === 'dir' && !st.isDirectory()) throw new OptionError(`${name}: ${v} is not a folder`);
    return v;
  };
}

/*
 * The options several commands share, defined once: the same flag, parser, range and default
 * everywhere; each command may word the help for what the option does there.
 */

/** What `--on-error` accepts. */
export const ON_ERROR_CHOICES = ['fail', 'skip'] as const;

/**
 * `--on-error <policy>`: `fail` (the default) stops at the first bad record naming its place;
 * `skip` counts it under its reason and goes on.
 *
 * @example
 * cmd.addOption(onErrorOption('bad lines: fail, or skip and count them'));
 */
export function onErrorOption(description = 'bad records: fail, or skip and count them'): Option {
  return new Option('--on-error <policy>', description)
    .argParser(oneOf('--on-error', ON_ERROR_CHOICES))
    .default('fail');
}

/**
 * `--workers <n>`: worker threads, 0 to `MAX_WORKERS` (0: in this thread). Any count gives the same bytes.
 *
 * @example
 * cmd.addOption(workersOption('packing threads (output identical for any count)', 0));
 */
export function workersOption(description: string, defaultValue: number = DEFAULT_WORKERS): Option {
  return new Option('--workers <n>', description)
    .argParser(integer('--workers', { min: 0, max: MAX_WORKERS }))
    .default(defaultValue);
}

/**
 * `--tokenizer <spec>`: `default` (the embedded Qwen3), a folder with tokenizer.json or
 * tokenizer.model, or a hub id. `defaultValue` null: no tokenizer unless one is named.
 *
 * @example
 * cmd.addOption(tokenizerOption()); // default 'default'
 * cmd.addOption(tokenizerOption('decode tokens with this tokenizer', null));
 */
export function tokenizerOption(
  description = "'default' (embedded Qwen3), a folder with tokenizer.json or tokenizer.model, or a hub id",
  defaultValue: string | null = 'default',
): Option {
  const o = new Option('--tokenizer <spec>', description);
  return defaultValue === null ? o : o.default(defaultValue);
}

/**
 * `--seed <n>`: numpy's uint32 seed of the packing shuffle, default {@link DEFAULT_SEED}.
 *
 * @example
 * cmd.addOption(seedOption());
 */
export function seedOption(description = 'shuffle seed of the packing'): Option {
  return new Option('--seed <n>', description)
    .argParser(integer('--seed', { min: 0, max: 2 ** 32 - 1 }))
    .default(DEFAULT_SEED);
}

/**
 * `--packed-length <n>`: tokens per pack (int32 range). `defaultValue` null: a required option.
 *
 * @example
 * cmd.addOption(packedLengthOption('tokens per pack', null)); // required
 */
export function packedLengthOption(
  description = 'tokens per pack',
  defaultValue: number | null = DEFAULT_PACKED_LENGTH,
): Option {
  const o = new Option('--packed-length <n>', description).argParser(
    integer('--packed-length', { min: 1, max: 2 ** 31 - 1 }),
  );
  return defaultValue === null ? o.makeOptionMandatory() : o.default(defaultValue);
}
