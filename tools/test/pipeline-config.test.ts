import { describe, expect, it } from 'vitest';
import { resolvePipeline } from '../nx-plugin/pipeline-config.ts';
import { pipelineTargets, type StageName } from '../nx-plugin/targets.ts';

const ROOT = '/ws';
const FILE = 'pipelines/demo/weft.pipeline.json';
const BOTH = { stages: ['order', 'process'] as StageName[] };
const chat = { source: '../../data/sample/ftdp', format: 'ftdp', template: 'internlm2_chat' };

describe('pipeline config', () => {
  it('resolves paths against the config folder, workspace-relative', () => {
    const p = resolvePipeline(ROOT, FILE, { ...chat, tokenizer: './tok' });
    expect(p).toMatchObject({
      name: 'demo',
      root: 'pipelines/demo',
      sourceDir: 'data/sample/ftdp',
      fileType: '.json',
      tokenizerDir: 'pipelines/demo/tok',
    });
  });

  it.each([
    [{ ...chat, sorce: 'x' }, /unknown key "sorce"/],
    [{ ...chat, source: '../../../elsewhere' }, /outside the workspace/],
    [{ source: 'x', format: 'ftdp' }, /needs a "template"/],
    [{ source: 'x', format: 'csv' }, /unknown format "csv"/],
    [{ source: 'x', format: 'internlm' }, /only makes sense packed/],
    [{ ...chat, pack: { seed: 1 } }, /packedLength" is required/],
    [{ ...chat, maxLength: -3 }, /"maxLength" must be a non-negative integer/],
    [{ ...chat, convert: { model: 'm' } }, /needs "train"/],
    [[1, 2], /expected a JSON object/],
  ])('rejects %j with a message naming the file', (raw, msg) => {
    expect(() => resolvePipeline(ROOT, FILE, raw)).toThrow(msg);
    expect(() => resolvePipeline(ROOT, FILE, raw)).toThrow(FILE);
  });

  it('reports a missing source folder when asked to check', () => {
    expect(() => resolvePipeline(ROOT, FILE, chat, () => false)).toThrow(
      /source folder data\/sample\/ftdp does not exist/,
    );
  });
});

describe('inferred targets', () => {
  it('chains order -> process with the data order, and hashes the sources, config and weft code', () => {
    const t = pipelineTargets(resolvePipeline(ROOT, FILE, { ...chat, pack: { packedLength: 64, seed: 7 } }), BOTH);
    expect(Object.keys(t)).toEqual(['order', 'process']);
    expect(t.process.dependsOn).toEqual(['order']);
    expect(t.process.options.command).toBe(
      'node packages/cli/bin/weft.mjs process data/sample/ftdp --format ftdp --template internlm2_chat' +
        ' --pack --packed-length 64 --seed 7 --data-order pipelines/demo/out/order/data_order.txt --out pipelines/demo/out/process --overwrite',
    );
    expect(t.process.inputs).toEqual(
      expect.arrayContaining([
        { fileset: '{workspaceRoot}/pipelines/demo/weft.pipeline.json' },
        { fileset: '{workspaceRoot}/data/sample/ftdp/**/*' },
        { fileset: '{workspaceRoot}/packages/tokenize/**/*' },
        { fileset: '!{workspaceRoot}/packages/tokenize/**/*.test.ts' },
      ]),
    );
    // The order stage does not depend on the tokenizer code.
    expect(t.order.inputs).not.toContainEqual({ fileset: '{workspaceRoot}/packages/tokenize/**/*' });
    expect(t.order.outputs).toEqual(['{projectRoot}/out/order']);
  });

  it('hashes a local tokenizer folder, and only the HF cache location for a hub id', () => {
    const local = pipelineTargets(resolvePipeline(ROOT, FILE, { ...chat, tokenizer: '../../models/tok' }), BOTH);
    expect(local.process.inputs).toContainEqual({ fileset: '{workspaceRoot}/models/tok/**/*' });
    expect(local.process.options.command).toContain('--tokenizer models/tok');
    const hub = pipelineTargets(
      resolvePipeline(ROOT, FILE, { ...chat, tokenizer: 'internlm/internlm2-chat-7b' }),
      BOTH,
    );
    expect(hub.process.inputs).toContainEqual({ env: 'HF_HOME' });
  });

  it('packs a tokenized .bin folder with weft pack, and quotes odd paths for the shell', () => {
    const t = pipelineTargets(
      resolvePipeline(ROOT, "pipelines/it's/weft.pipeline.json", {
        source: '../../data/sample/tokenized',
        format: 'internlm',
        pack: { packedLength: 32 },
        name: 'bin',
      }),
      BOTH,
    );
    expect(t.process.options.command).toBe(
      'node packages/cli/bin/weft.mjs pack data/sample/tokenized --packed-length 32' +
        " --data-order 'pipelines/it'\\''s/out/order/data_order.txt' --out 'pipelines/it'\\''s/out/process' --overwrite",
    );
  });

  it('continues with train and convert when the pipeline asks for them', () => {
    const t = pipelineTargets(
      resolvePipeline(ROOT, FILE, {
        ...chat,
        pack: { packedLength: 64 },
        train: { config: 'train.config.ts', args: ['--total-steps', '2'] },
        convert: { model: 'model' },
      }),
    );
    expect(Object.keys(t)).toEqual(['order', 'process', 'train', 'convert']);
    expect(t.train.dependsOn).toEqual(['process']);
    expect(t.convert.dependsOn).toEqual(['train']);
    expect(t.train.options.command).toBe(
      'node packages/cli/bin/weft.mjs train pipelines/demo/train.config.ts --work-dir pipelines/demo/out/train --total-steps 2',
    );
    expect(t.convert.options.command).toBe(
      'node packages/cli/bin/weft.mjs convert pth-to-hf pipelines/demo/model' +
        ' pipelines/demo/out/train/"$(cat pipelines/demo/out/train/last_checkpoint)" pipelines/demo/out/hf --overwrite',
    );
    expect(t.train.inputs).toContainEqual({ fileset: '{workspaceRoot}/pipelines/demo/train.config.ts' });
    expect(t.train.inputs).toContainEqual({ fileset: '{workspaceRoot}/packages/trainer/**/*' });
    expect(t.convert.inputs).toContainEqual({ fileset: '{workspaceRoot}/pipelines/demo/model/**/*' });
    expect(t.convert.outputs).toEqual(['{projectRoot}/out/hf']);
    // Without train/convert in the config, only the data targets exist.
    expect(Object.keys(pipelineTargets(resolvePipeline(ROOT, FILE, chat)))).toEqual(['order', 'process']);
  });
});
