export { RandomState, shuffledArange } from '@weft/core';
export { LengthSeededPlan, packLengthSeeded, type LengthSource, type Piece } from './length-seeded.ts';
export { PackedDataset, type PackedDatasetOptions } from './packed-dataset.ts';
export { InternRepoSampler, type SamplerCursor } from './sampler.ts';
export { packStreaming, type StreamingPackOptions } from './streaming.ts';
export { ArrowDatasetWriter, fingerprintOf, type ArrowDatasetWriterOptions, type WrittenFile } from './arrow-writer.ts';
export { ArrowDataset, type ValueLayout } from './arrow-reader.ts';
export { arrowSink, type ArrowSinkOptions, type ArrowSinkResult } from './arrow-sink.ts';
export {
  datasetDictJson,
  datasetInfoJson,
  shardName,
  stateJson,
  SAMPLE_COLUMNS,
  SAMPLE_INT64_COLUMNS,
} from './hf-json.ts';
export { BinSource, binSources, type BinSourceOptions } from './bin-source.ts';
export {
  checkedBinSources,
  checkedBinFolder,
  type CheckedBinOptions,
  type CheckedBinSources,
} from './checked-bin-sources.ts';
export { ArrowSource } from './arrow-source.ts';
export {
  writePackedDataset,
  reusableStats,
  PACK_COLUMNS,
  type PackStats,
  type WritePackedOptions,
} from './pack-job.ts';
export { trainableOnly, lossTokens } from './trainable-only.ts';
export { inspect, histogram, type InspectOptions } from './inspect.ts';
export {
  resolveShard,
  planUnits,
  assignUnits,
  unitRange,
  fileRanges,
  DEFAULT_SPLIT_BYTES,
  type ShardSpec,
  type ShardUnit,
} from './shard-plan.ts';
export {
  RANGE_CUT,
  rangedSamples,
  toStatsRecords,
  fromStatsRecords,
  combineStats,
  type Range,
  type StatsRecord,
} from './range-samples.ts';
export { sha256Range, inputDigest, fileDigest } from './input-digest.ts';
export { defaultCacheDir, ensureTokenCache, TokenFile } from './token-cache.ts';
export { checkBinVocab } from './vocab-scan.ts';
