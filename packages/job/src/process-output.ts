import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  claimOutputDir,
  DEFAULT_PACKED_LENGTH,
  DEFAULT_SEED,
  DEFAULT_TEMPLATE,
  readOutputMarker,
  realPathOf,
  removeStaleTemps,
  type OutputDirState,
} from '@weft/core';
import type { ProcessOptions } from './process.ts';

/**
 * The settings that decide what `weft process` writes. A rerun over its own output with equal
 * settings resumes (reusing finished units); other settings are a replacement and need
 * `--overwrite`. Paths are recorded relative to the output folder, so the same job run from
 * another working directory (or another checkout) still resumes.
 *
 * @example
 * processSettings({ input: 'data/ftdp', format: 'ftdp', out: 'out/demo', pack: true });
 */
export function processSettings(opts: ProcessOptions): Record<string, unknown> {
  const out = realPathOf(opts.out);
  const rel = (p: string | undefined): string | null => (p === undefined ? null : relative(out, realPathOf(p)) || '.');
  const tokenized = opts.format === 'internlm';
  return {
    input: rel(opts.input),
    format: opts.format,
    file_type: opts.fileType ?? null,
    data_order: rel(opts.dataOrderPath),
    tokenizer: tokenized ? null : (opts.tokenizer ?? 'default'),
    template: tokenized ? null : (opts.template ?? DEFAULT_TEMPLATE),
    max_length: opts.maxLength ?? null,
    min_length: opts.minLength ?? 0,
    on_error: opts.onError ?? 'fail',
    pack: Boolean(opts.pack),
    packed_length: opts.pack ? (opts.packedLength ?? DEFAULT_PACKED_LENGTH) : null,
    seed: opts.pack ? (opts.seed ?? DEFAULT_SEED) : null,
    max_shard_bytes: opts.maxShardBytes ?? null,
  };
}

/** The parts of a process output folder; only these are ever removed by a rerun. */
const PARTS = ['samples', 'packed'] as const;

/**
 * Take `opts.out` for a process run (see `claimOutputDir` in core): refuse inputs, the working
 * directory, `/`, foreign folders and, without `overwrite`, a weft output made with other
 * settings. Then make the folder hold only what this run will list in its summary: a part the run
 * does not produce (`packed/` without `--pack`, `samples/` for tokenized input packed directly) is
 * removed, and a replaced run's `summary.json` goes until the new one is written. Anything else
 * inside (e.g. the demo's `train/`) is left alone.
 *
 * @example
 * await prepareProcessOutput(opts, { samples: true, packed: false });
 */
export async function prepareProcessOutput(
  opts: ProcessOptions,
  produces: Record<(typeof PARTS)[number], boolean>,
): Promise<OutputDirState> {
  const tokenizerDir =
    opts.tokenizer !== undefined && opts.format !== 'internlm' && existsSync(opts.tokenizer)
      ? opts.tokenizer
      : undefined;
  const state = await claimOutputDir(opts.out, {
    command: opts.command ?? 'process',
    settings: processSettings(opts),
    overwrite: opts.overwrite ?? false,
    inputs: [opts.input, opts.dataOrderPath, tokenizerDir],
  });
  if (state === 'replace') await rm(join(opts.out, 'summary.json'), { force: true });
  for (const part of PARTS) {
    const dir = join(opts.out, part);
    if (produces[part] || !existsSync(dir)) continue;
    // Inside a folder this command owns, so the part is weft's; a marked part says so again.
    if (part === 'packed' && readOutputMarker(dir) === undefined && !existsSync(join(dir, 'weft_stats.json'))) continue;
    await rm(dir, { recursive: true, force: true });
  }
  await removeStaleTemps(join(opts.out, 'samples'));
  return state;
}
