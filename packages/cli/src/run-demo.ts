import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runProcess } from '@weft/pack';

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
    input: join(ROOT, 'data/sample/ftdp'),
    format: 'ftdp',
    tokenizer: 'default',
    template: 'internlm2_chat',
    maxLength: 32768,
    pack: true,
    packedLength: 4096,
    seed: 1024,
    workers: opts.workers ?? 0,
    out: opts.out,
  });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (opts.train) {
    const { loadConfig, train } = await import('@weft/trainer');
    const config = await loadConfig(join(ROOT, 'packages/trainer/src/configs/tiny_cpu_demo.ts'));
    config.workDir = join(opts.out, 'train');
    await train(config, {});
  }
}
