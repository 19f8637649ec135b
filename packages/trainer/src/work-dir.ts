import { checkOutputLocation } from '@weft/core';
import type { DatasetSpec, TrainConfig } from './config.ts';

const pathOf = (d: DatasetSpec | undefined): string | undefined => (d && 'path' in d ? d.path : undefined);

/**
 * Refuse a work dir that is, contains or lies inside what the run reads (dataset, validation set,
 * model folder, data order), that is or contains the working directory, or that is `/`, before
 * anything starts (exit code 2). The trainer writes checkpoints, logs and metrics there and
 * rotates only its own checkpoints, but a work dir in those places would mix them with the inputs.
 *
 * @example
 * checkWorkDir(config); // throws OutputDirError for workDir: '.'
 */
export function checkWorkDir(
  c: Pick<TrainConfig, 'workDir' | 'dataset' | 'validation' | 'model' | 'dataOrderPath'>,
): void {
  checkOutputLocation(c.workDir, {
    option: 'workDir',
    inputs: [pathOf(c.dataset), pathOf(c.validation?.dataset), c.model?.path, c.dataOrderPath],
  });
}
