import { fileURLToPath } from 'node:url';
import { join, relative, resolve } from 'node:path';
import { runProcess } from '@weft/job';
import { DEFAULT_MAX_LENGTH, DEFAULT_SEED, DEFAULT_TEMPLATE, DEFAULT_WORKERS } from '@weft/core';

/**
 * Short packs keep the optional CPU training quick: a step's cost is its tokens times the 151669-token
 * vocabulary (the logits), so 256-token packs train 4× faster per step than 1024.
 */
export const DEMO_PACKED_LENGTH = 256;

/** The repository root (the demo data ships inside it). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface DemoOptions {
  out: string;
  train?: boolean;
  workers?: number;
  /** Replace an earlier weft output at `out` that was made otherwise. */
  overwrite?: boolean;
}

/**
 * The README's main job: the shipped ftdp conversations, the embedded default tokenizer (Qwen3)
 * and the internlm2_chat template → tokenized samples (a DatasetDict, one split per file) and the
 * length-seeded packed dataset; prints the JSON summary. With `train`, a short CPU training run of
 * the tiny demo model follows.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const summary = await runProcess({
    // Relative to where the command runs, so that summary.json is the same bytes in every checkout.
    input: relative(process.cwd(), join(ROOT, 'data/sample/ftdp')) || '.',
    format: 'ftdp',
    tokenizer: 'default',
    template: DEFAULT_TEMPLATE,
    maxLength: DEFAULT_MAX_LENGTH,
    pack: true,
    packedLength: DEMO_PACKED_LENGTH,
    seed: DEFAULT_SEED,
    workers: opts.workers ?? DEFAULT_WORKERS,
    out: opts.out,
    command: 'demo',
    overwrite: opts.overwrite ?? false,
  });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  // stdout stays pure JSON (for jq); where things went is for the person reading the terminal.
  const out = resolve(opts.out);
  process.stderr.write(
    `weft demo: wrote ${out}/ — samples/ (tokenized DatasetDict, one split per input file), ` +
      `packed/ (packed Arrow dataset, ${summary.packs} packs of ${DEMO_PACKED_LENGTH} tokens), summary.json; look inside: npx weft inspect ${join(opts.out, 'packed')} --tokenizer default\n`,
  );
  if (opts.train) {
    // The tiny CPU demo model (2 layers, hidden 64, Qwen3 vocabulary), trained on the packs just written.
    const { loadNamedConfig, train } = await import('@weft/trainer');
    const config = await loadNamedConfig('tiny_cpu_demo');
    const packed = { kind: 'packed' as const, path: join(opts.out, 'packed') };
    Object.assign(config, {
      dataset: packed,
      packedLength: DEMO_PACKED_LENGTH,
      maxLength: DEMO_PACKED_LENGTH,
      accumulativeCounts: 1,
      totalSteps: 12,
      checkpointEvery: 12,
      workDir: join(opts.out, 'train'),
      validation: { dataset: packed, validEvery: 6, validMicroNum: 2 },
    });
    await train(config); // 2 gloo ranks: the config's nprocPerNode, as `weft list-cfg` says
  }
}
