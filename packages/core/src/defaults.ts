import { availableParallelism } from 'node:os';

/**
 * Defaults shared by every command that templates and tokenizes (`weft tokenize`, `weft process`,
 * `weft demo`, the trainer's untokenized datasets), kept in one place so that they agree.
 *
 * @example
 * program.option('--template <name>', 'prompt template', DEFAULT_TEMPLATE);
 */

/** xtuner prompt template used when none is named (the one the README's commands and the demo use). */
export const DEFAULT_TEMPLATE = 'internlm2_chat';

/**
 * Encoder worker threads when none are asked for: every core this process may use
 * (`os.availableParallelism()`, at most the options' limit of 256). Any count gives the same bytes;
 * the native tokenizer's own threads are sized to match (packages/tokenize/README.md, Parallelism).
 */
export const DEFAULT_WORKERS = Math.min(256, availableParallelism());
