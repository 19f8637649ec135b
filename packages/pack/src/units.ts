/**
 * `@weft/pack/units`: what a worker thread needs to write one unit of a job (the Arrow sink, the
 * sample columns, a range's digest and real bounds, the counters' records, the trainable filter)
 * without the readers, packers and CLI. Each of many unit workers imports this: a lighter start
 * than the whole package, which also loads apache-arrow's reading side.
 */
export { arrowSink, type ArrowSinkOptions, type ArrowSinkResult } from './arrow-sink.ts';
export type { WrittenFile } from './arrow-writer.ts';
export { SAMPLE_COLUMNS, SAMPLE_INT64_COLUMNS } from './hf-json.ts';
export { sha256Range } from './input-digest.ts';
export { toStatsRecords, type Range, type StatsRecord } from './range-samples.ts';
export { unitRange, type ShardUnit } from './shard-plan.ts';
export { lossTokens, trainableOnly } from './trainable-only.ts';
