import { dirname } from 'node:path';
import type { CreateNodesV2, CreateNodesResult } from 'nx/src/devkit-exports';
import { PIPELINE_FILE, loadPipeline } from './pipeline-config.ts';
import { pipelineTargets, type PluginOptions } from './targets.ts';

/**
 * The weft nx plugin: every `weft.pipeline.json` makes its folder an nx project with cached
 * `order` → `process` (→ `train` → `convert`) targets that run the `weft` CLI.
 *
 * @example
 * // nx.json
 * { "plugins": ["./tools/nx-plugin/index.cjs"] }
 * // then: npx nx run demo:process, or npx nx run-many -t process
 */
export const createNodesV2: CreateNodesV2<PluginOptions> = [
  `**/${PIPELINE_FILE}`,
  (configFiles, options, context) =>
    configFiles.map((file) => {
      // Missing data is left to `weft` to report when the target runs: an exception here would
      // break the project graph of the whole workspace.
      const pipeline = loadPipeline(context.workspaceRoot, file);
      const result: CreateNodesResult = {
        projects: {
          [dirname(file)]: {
            name: pipeline.name,
            projectType: 'application',
            tags: ['weft:pipeline'],
            targets: pipelineTargets(pipeline, options ?? {}),
          },
        },
      };
      return [file, result] as const;
    }),
];

/** nx 23 reads `createNodes` (same signature); `createNodesV2` is its deprecated alias. */
export const createNodes = createNodesV2;

export const name = 'weft-pipelines';
