export { DataError, isDataError, type Provenance, type OnError } from './errors.ts';
export type { Reason, RecordField } from './reasons.ts';
export { StageStats, type StageContext } from './stats.ts';
export {
  defineStage,
  pipe,
  fromIterable,
  collect,
  map,
  filter,
  batch,
  tap,
  type Stage,
  type CountedStage,
  type Source,
} from './stage.ts';
export { writeFileAtomic, writeFileAtomicSync, AtomicFile, writeAllSync } from './atomic.ts';
export { tempPathFor, releaseTemp, pidAlive, removeStaleTemps } from './stale-temps.ts';
export {
  OUTPUT_MARKER,
  OutputDirError,
  StagedOutputDir,
  checkOutputDir,
  checkOutputLocation,
  claimOutputDir,
  claimSharedOutputDir,
  outputMarkerText,
  readOutputMarker,
  realPathOf,
  type OutputMarker,
  type OutputDirOptions,
  type OutputDirState,
  type SharedClaim,
} from './output-dir.ts';
export { checkOutputFile, type OutputFileOptions } from './output-file.ts';
export { Progress, type ProgressOptions, type ProgressStream, type ReusedWork } from './progress.ts';
export {
  DEFAULT_TEMPLATE,
  DEFAULT_WORKERS,
  DEFAULT_SEED,
  DEFAULT_PACKED_LENGTH,
  DEFAULT_MAX_LENGTH,
  MAX_WORKERS,
} from './defaults.ts';
export { parallelMap, WorkerPool, type ParallelMapOptions } from './parallel.ts';
export { mapConcurrent } from './concurrent.ts';
export { comparePython } from './pysort.ts';
export { IGNORE_INDEX, type TextDoc, type Message, type Conversation, type Sample, type Pack } from './records.ts';
export { RandomState, shuffledArange } from './mt19937.ts';
export {
  signedTokenId,
  signedTokenLabel,
  decodeSignedInto,
  fromSignedTokens,
  toSignedTokens,
} from './signed-tokens.ts';
export { seededRandom } from './random.ts';
export {
  OptionError,
  UsageError,
  isUsageError,
  EXIT_BAD_INPUT,
  integer,
  decimal,
  byteSize,
  bytesOf,
  oneOf,
  existingPath,
  onErrorOption,
  workersOption,
  tokenizerOption,
  seedOption,
  packedLengthOption,
  type Range,
} from './cli-options.ts';
export { emptyOutputProblem, checkOutputNotEmpty, type OutputCounts } from './empty-output.ts';
export { mutateBytes } from './mutate.ts';
export { walkProtobuf, type ProtoFieldHandler } from './protobuf.ts';
export { OUT_OF_VOCAB, firstOutOfVocab, outOfVocab, checkVocabSize, vocabCheck } from './vocab.ts';
export { fullGc } from './gc.ts';
export { defaultCacheDir } from './cache-dir.ts';
export { prefetch, openedInTurn, type Prefetched } from './prefetch.ts';
