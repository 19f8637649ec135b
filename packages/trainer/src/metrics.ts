import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '@weft/core';
import { runPicture, type StepMetrics } from './plot.ts';
import { EventFileWriter } from './tfevents.ts';

/** The prefix rank 0 puts before each metrics JSON line on stdout. */
export const METRICS_PREFIX = '@weft-metrics ';

/**
 * Where step metrics go: the console (InternLM-style line), `metrics.jsonl`, TensorBoard event
 * files under `logs/`, and `run.html` (rewritten at checkpoints and at the end).
 *
 * @example
 * const sink = await MetricsSink.open(workDir, { resumeStep: 0 });
 * sink.step(row); sink.flushPicture(); sink.close();
 */
export class MetricsSink {
  readonly rows: StepMetrics[] = [];
  private tb: EventFileWriter;

  private constructor(
    readonly workDir: string,
    private log: (s: string) => void,
  ) {
    mkdirSync(join(workDir, 'logs'), { recursive: true });
    this.tb = new EventFileWriter(join(workDir, 'logs'));
  }

  /** Open the sink; on resume, rows past the resumed step (from the lost part of the old run) are dropped. */
  static async open(workDir: string, o: { resumeStep: number; log?: (s: string) => void }): Promise<MetricsSink> {
    const s = new MetricsSink(workDir, o.log ?? ((l) => process.stdout.write(`${l}\n`)));
    const file = join(workDir, 'metrics.jsonl');
    if (o.resumeStep > 0 && existsSync(file)) {
      const keep = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StepMetrics)
        .filter((r) => r.step <= o.resumeStep);
      s.rows.push(...keep);
      await writeFileAtomic(file, keep.map((r) => `${JSON.stringify(r)}\n`).join(''));
    } else {
      await writeFileAtomic(file, '');
    }
    return s;
  }

  step(r: StepMetrics): void {
    this.rows.push(r);
    appendFileSync(join(this.workDir, 'metrics.jsonl'), `${JSON.stringify(r)}\n`);
    this.tb.scalars(r.step, {
      'train/loss': r.loss,
      'train/lr': r.lr,
      'train/grad_norm': r.grad_norm ?? Number.POSITIVE_INFINITY,
      'train/tgs': r.tgs,
      'train/tflops': r.tflops,
      'train/num_consumed_tokens': r.num_consumed_tokens,
      'train/data_wait_s': r.data_wait_s,
      ...(r.loss_scale !== undefined ? { 'train/loss_scale': r.loss_scale } : {}),
    });
    this.log(
      `step=${r.step} loss=${r.loss.toFixed(4)} lr=${r.lr.toExponential(3)} grad_norm=${r.grad_norm === null ? 'inf' : r.grad_norm.toFixed(3)} ` +
        `tgs=${r.tgs.toFixed(1)} tflops=${r.tflops.toFixed(3)} num_consumed_tokens=${r.num_consumed_tokens} ` +
        `largest_seq=${r.largest_seq} smallest_seq=${r.smallest_seq} data_wait=${(r.data_wait_s * 1000).toFixed(1)}ms` +
        (r.loss_scale !== undefined
          ? ` loss_scale=${r.loss_scale}${r.skipped ? ' (overflow: step skipped)' : ''}`
          : ''),
    );
  }

  valid(step: number, loss: number): void {
    const ppl = Math.exp(loss);
    appendFileSync(
      join(this.workDir, 'metrics.jsonl'),
      `${JSON.stringify({ step, valid_loss: loss, valid_ppl: ppl })}\n`,
    );
    this.tb.scalars(step, { 'valid/loss': loss, 'valid/ppl': ppl });
    this.log(`step=${step} valid_loss=${loss.toFixed(4)} valid_ppl=${ppl.toFixed(3)}`);
  }

  flushPicture(title = 'weft training run'): void {
    writeFileAtomicSync(
      join(this.workDir, 'run.html'),
      runPicture(
        this.rows.filter((r) => r.loss !== undefined),
        title,
      ),
    );
  }

  close(): void {
    this.tb.close();
  }
}
