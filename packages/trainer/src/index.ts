export { registerCommands } from './cli.ts';
export { defineConfig, type TrainConfig, type DatasetSpec } from './config.ts';
export { train, type TrainOptions } from './train.ts';
export { syntheticPacks, type RandomAccessPacks } from './dataset.ts';
export { startFeed, type FeedPlan } from './feed.ts';
export { encodePackFrame, encodeEndFrame } from './frames.ts';
export { internRepoOrder, type PackOrder } from './schedule.ts';
export { resolvePython, type PythonInfo } from './python.ts';
export { WORKER_DIR } from './launch.ts';
export { loadNamedConfig } from './named-configs.ts';

