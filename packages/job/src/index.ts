export { registerCommands } from './cli.ts';
export {
  runProcess,
  DEFAULT_FILE_TYPE,
  type ProcessOptions,
  type ProcessSummary,
  type ProcessFormat,
  type FileStats,
} from './process.ts';
export { runProcessShard, type ShardMarker, type ShardConfig } from './shard-run.ts';
export { runPack, runPackShard, type PackJobOptions } from './pack-shard.ts';
export { mergeShards, mergeIfLast, type MergeOptions, type MergeResult } from './merge.ts';
