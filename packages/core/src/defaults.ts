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
export const DEFAULT_WORKERS = Math.min(256, availableParallelism()); // 256 = MAX_WORKERS

/** Shuffle seed of packing and of the sampler: xtuner pins 1024 "for alignment". */
export const DEFAULT_SEED = 1024;

/** Tokens per pack when none is asked for (`weft process --pack`, `weft inspect` of a `.bin` folder). */
export const DEFAULT_PACKED_LENGTH = 8192;

/** Tokens per sample before truncation when none is asked for (`weft process`, `weft demo`). */
export const DEFAULT_MAX_LENGTH = 32768;

/** Most worker threads any command accepts for `--workers`. */
export const MAX_WORKERS = 256;
