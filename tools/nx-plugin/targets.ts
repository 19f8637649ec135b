import type { TargetConfiguration } from 'nx/src/devkit-exports';
import type { ResolvedPipeline } from './pipeline-config.ts';

/** The stages a pipeline can have, in order; each becomes an nx target of the same name. */
export type StageName = 'order' | 'process' | 'train' | 'convert';

/** nx input entries (file sets, env vars), as nx.json spells them. */
type Input = string | { fileset: string } | { env: string };

/** Options of the plugin, from `nx.json` (`{"plugin": "./tools/nx-plugin/index.cjs", "options": {...}}`). */
export interface PluginOptions {
  /** Stages to infer (default: those whose `weft` subcommand exists, see `WIRED_STAGES`). */
  stages?: StageName[];
  /** The weft CLI entry, workspace-relative (default `packages/cli/bin/weft.mjs`). */
  weftBin?: string;
}

/**
 * Stages wired to an existing `weft` subcommand. A stage whose CLI has not landed yet is left out
 * rather than inferred as a target that can only fail.
 */
export const WIRED_STAGES: readonly StageName[] = ['order', 'process', 'train', 'convert'];

/**
 * The weft packages whose code decides each stage's output. Their sources (not their tests,
 * docs or type-check settings) are hashed into the stage's inputs, so a change in the tokenizer code re-runs `process`
 * but a change in the converter does not.
 */
const STAGE_PACKAGES: Record<StageName, string[]> = {
  order: ['core', 'order', 'cli'],
  process: ['core', 'order', 'tokenize', 'pack', 'cli'],
  train: ['core', 'order', 'tokenize', 'pack', 'trainer', 'cli'],
  convert: ['core', 'convert', 'cli'],
};

/** Where each stage writes, relative to the pipeline folder (gitignored: `out/`). */
export const OUT = { order: 'out/order', process: 'out/process', train: 'out/train', convert: 'out/hf' } as const;

/**
 * Build the nx targets of one pipeline.
 *
 * @example
 * const targets = pipelineTargets(loadPipeline(root, 'pipelines/demo/weft.pipeline.json'));
 * targets.process.dependsOn; // ["order"]
 */
export function pipelineTargets(p: ResolvedPipeline, options: PluginOptions = {}): Record<string, TargetConfiguration> {
  const weft = `node ${q(options.weftBin ?? 'packages/cli/bin/weft.mjs')}`;
  const stages = new Set(options.stages ?? WIRED_STAGES);
  const out = (s: StageName) => `${p.root}/${OUT[s]}`;
  const targets: Record<string, TargetConfiguration> = {};

  const sourceFiles = (pattern: string): Input[] => [{ fileset: `{workspaceRoot}/${p.sourceDir}/${pattern}` }];
  const config: Input[] = [{ fileset: `{workspaceRoot}/${p.configFile}` }];

  if (stages.has('order')) {
    targets.order = target(
      // --overwrite: the stage's outputs are nx's to manage (cached, restored, rerun on change).
      `${weft} order ${q(p.sourceDir)} --file-type ${q(p.fileType)} --out ${q(out('order'))} --overwrite`,
      // Only the names of the listed files decide the order, but nx hashes contents: a superset.
      [...config, ...sourceFiles(`**/*${p.fileType}`), ...weftInputs('order')],
      [`{projectRoot}/${OUT.order}`],
      [],
      `Write ${OUT.order}/data_order.txt: the deterministic order of the ${p.fileType} files in ${p.sourceDir}`,
    );
  }

  if (stages.has('process')) {
    const dataOrder = stages.has('order') ? ['--data-order', `${out('order')}/data_order.txt`] : [];
    const pack = p.pack
      ? [
          '--packed-length',
          String(p.pack.packedLength),
          ...(p.pack.seed !== undefined ? ['--seed', String(p.pack.seed)] : []),
          ...(p.pack.minLength !== undefined ? ['--min-length', String(p.pack.minLength)] : []),
        ]
      : [];
    // A tokenized .bin folder needs only packing (`weft pack`); raw data goes through the whole
    // offline job (read, template, tokenize, pack).
    const args =
      p.format === 'internlm'
        ? ['pack', p.sourceDir, ...pack, ...dataOrder]
        : [
            'process',
            p.sourceDir,
            '--format',
            p.format,
            ...(p.tokenizer && p.tokenizer !== 'default' ? ['--tokenizer', p.tokenizerDir ?? p.tokenizer] : []),
            ...(p.template ? ['--template', p.template] : []),
            ...(p.maxLength !== undefined ? ['--max-length', String(p.maxLength)] : []),
            ...(p.pack ? ['--pack', ...pack] : []),
            ...dataOrder,
          ];
    const inputs: Input[] = [...config, ...sourceFiles('**/*'), ...weftInputs('process')];
    if (p.tokenizerDir) inputs.push({ fileset: `{workspaceRoot}/${p.tokenizerDir}/**/*` });
    // A hub id is resolved through the Hugging Face cache, outside the workspace: hash where it is.
    if (p.tokenizer && p.tokenizer !== 'default' && !p.tokenizerDir)
      inputs.push({ env: 'HF_HOME' }, { env: 'HF_ENDPOINT' });
    targets.process = target(
      `${weft} ${[...args, ...(p.processArgs ?? []), '--out', out('process'), '--overwrite'].map(q).join(' ')}`,
      inputs,
      [`{projectRoot}/${OUT.process}`],
      stages.has('order') ? ['order'] : [],
      p.format === 'internlm'
        ? `Pack the tokenized samples of ${p.sourceDir} into ${OUT.process} (Arrow)`
        : `Read, template, tokenize${p.pack ? ' and pack' : ''} ${p.sourceDir} into ${OUT.process} (Arrow)`,
    );
  }

  if (stages.has('train') && p.train && p.trainConfig) {
    // The trainer config names its data (typically the process target's packs) and model; the
    // work dir is pinned here so that nx knows where the checkpoints land.
    targets.train = target(
      `${weft} ${['train', p.trainConfig, '--work-dir', out('train'), ...(p.train.args ?? [])].map(q).join(' ')}`,
      [
        ...config,
        ...sourceFiles('**/*'),
        { fileset: `{workspaceRoot}/${p.trainConfig}` },
        ...weftInputs('train'),
        ...(p.modelDir ? [{ fileset: `{workspaceRoot}/${p.modelDir}/**/*` }] : []),
        { env: 'WEFT_PYTHON' },
        { env: 'NPROC_PER_NODE' },
      ],
      [`{projectRoot}/${OUT.train}`],
      stages.has('process') ? ['process'] : [],
      `Train with ${p.trainConfig}; checkpoints, metrics and logs in ${OUT.train}`,
    );
  }

  if (stages.has('convert') && p.convert && p.modelDir) {
    // Without an explicit checkpoint: the newest one, which the trainer names in `last_checkpoint`.
    const ckpt = p.convert.checkpoint
      ? q(p.convert.checkpoint)
      : `${q(out('train'))}/"$(cat ${q(`${out('train')}/last_checkpoint`)})"`;
    targets.convert = target(
      `${weft} convert pth-to-hf ${q(p.modelDir)} ${ckpt} ${[out('convert'), '--overwrite', ...(p.convert.args ?? [])].map(q).join(' ')}`,
      [
        ...config,
        ...sourceFiles('**/*'),
        ...(p.trainConfig ? [{ fileset: `{workspaceRoot}/${p.trainConfig}` }] : []),
        { fileset: `{workspaceRoot}/${p.modelDir}/**/*` },
        ...weftInputs('train'),
        ...weftInputs('convert'),
        { env: 'WEFT_PYTHON' },
        { env: 'NPROC_PER_NODE' },
      ],
      [`{projectRoot}/${OUT.convert}`],
      stages.has('train') && p.train ? ['train'] : [],
      `Convert the last training checkpoint to a Hugging Face safetensors folder in ${OUT.convert}`,
    );
  }
  return targets;
}

/** The weft code and locked dependency versions a stage's output depends on. */
function weftInputs(stage: StageName): Input[] {
  const inputs: Input[] = [];
  for (const pkg of STAGE_PACKAGES[stage]) {
    const dir = `{workspaceRoot}/packages/${pkg}`;
    inputs.push(
      { fileset: `${dir}/**/*` },
      { fileset: `!${dir}/test/**/*` },
      { fileset: `!${dir}/**/*.test.ts` },
      { fileset: `!${dir}/**/*.md` },
      { fileset: `!${dir}/vitest.config.ts` },
      { fileset: `!${dir}/tsconfig.json` }, // what tsc checks, not what runs
    );
  }
  // Versions of the libraries weft runs on (tokenizers, apache-arrow, the default tokenizer's package).
  inputs.push({ fileset: '{workspaceRoot}/package-lock.json' });
  return inputs;
}

function target(
  command: string,
  inputs: Input[],
  outputs: string[],
  dependsOn: string[],
  description: string,
): TargetConfiguration {
  return {
    executor: 'nx:run-commands',
    options: { command },
    cache: true,
    inputs,
    outputs,
    ...(dependsOn.length ? { dependsOn } : {}),
    metadata: { technologies: ['weft'], description },
  };
}

/** Quote for a POSIX shell when needed. */
function q(s: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
