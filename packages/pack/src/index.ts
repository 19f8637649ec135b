export { registerCommands } from './cli.ts';
export { RandomState, shuffledArange } from './mt19937.ts';
export { LengthSeededPlan, PackedFile, assemblePack, packLengthSeeded, type LengthSource, type Piece } from './length-seeded.ts';
export { PackedDataset, type PackedDatasetOptions } from './packed-dataset.ts';
export { InternRepoSampler, type SamplerCursor } from './sampler.ts';
export { packStreaming, type StreamingPackOptions } from './streaming.ts';
export { ArrowDatasetWriter, hfSchema, type ArrowDatasetWriterOptions } from './arrow-writer.ts';
export { ArrowDataset } from './arrow-reader.ts';
export { datasetDictJson, shardName } from './hf-json.ts';
