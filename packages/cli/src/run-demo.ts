import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { runProcess } from '@weft/pack';
import { DEFAULT_WORKERS } from '@weft/core';

/** Short packs keep the optional CPU training quick (the logits of a 151669-token vocabulary are large). */
const DEMO_PACKED_LENGTH = 1024;

/** The repository root (the demo data ships inside it). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface DemoOptions {
  out: string;
  train?: boolean;
  workers?: number;
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
    template: 'internlm2_chat',
    maxLength: 32768,
    pack: true,
    packedLength: DEMO_PACKED_LENGTH,
    seed: 1024,
    workers: opts.workers ?? DEFAULT_WORKERS,
    out: opts.out,
  });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (opts.train) {
    // The tiny CPU demo model (2 layers, hidden 64, Qwen3 vocabulary), trained on the packs just written.
    const { loadConfig, train } = await import('@weft/trainer');
    const config = await loadConfig(join(ROOT, 'packages/trainer/src/configs/tiny_cpu_demo.ts'));
    const packed = { kind: 'packed' as const, path: join(opts.out, 'packed') };
    Object.assign(config, {
      dataset: packed, packedLength: DEMO_PACKED_LENGTH, maxLength: DEMO_PACKED_LENGTH,
      accumulativeCounts: 1, totalSteps: 12, checkpointEvery: 12, workDir: join(opts.out, 'train'),
      validation: { dataset: packed, validEvery: 6, validMicroNum: 2 },
    });
    await train(config, { nprocPerNode: 2 });
  }
}
