import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WIRED_STAGES } from '../nx-plugin/targets.ts';
import { makeTempWorkspace, runNx, snapshot, taskSources } from './temp-workspace.ts';

/**
 * Drives the real nx (no daemon, no cloud, caches inside a temporary copy of the workspace) over
 * the shipped pipelines, with the real `weft` CLI behind the targets.
 */
const PIPELINES = ['pipelines/demo', 'pipelines/internlm-sample'];
/** The last wired stage; running it runs the ones before it. */
const TARGET = WIRED_STAGES.includes('process') ? 'process' : 'order';
const STAGES = WIRED_STAGES.filter((s) => s === 'order' || s === TARGET);
const tasks = (project: string) => STAGES.map((s) => `${project}:${s}`);
const TASKS = ['demo', 'internlm-sample'].flatMap(tasks);
const all = (how: 'ran' | 'cache', projects = ['demo', 'internlm-sample']) =>
  Object.fromEntries(projects.flatMap(tasks).map((t) => [t, how]));

describe('nx pipeline targets', () => {
  let ws: string;
  beforeAll(() => {
    ws = makeTempWorkspace(PIPELINES);
  });
  afterAll(() => {
    if (ws) rmSync(ws, { recursive: true, force: true });
  });

  const outputs = () => Object.fromEntries(PIPELINES.map((p) => [p, snapshot(join(ws, p, 'out'))]));
  const sources = (output: string) => {
    const all = taskSources(output);
    return Object.fromEntries(TASKS.map((t) => [t, all[t]]));
  };

  it('infers the targets from weft.pipeline.json', async () => {
    const r = await runNx(ws, ['show', 'project', 'demo', '--json']);
    expect(r.code, r.output).toBe(0);
    const project = JSON.parse(r.output.slice(r.output.indexOf('{'), r.output.lastIndexOf('}') + 1)) as {
      root: string;
      targets: Record<string, { dependsOn?: string[]; outputs?: string[]; cache?: boolean }>;
    };
    expect(project.root).toBe('pipelines/demo');
    expect(project.targets.order).toMatchObject({ outputs: ['{projectRoot}/out/order'], cache: true });
    if (TARGET === 'process')
      expect(project.targets.process).toMatchObject({
        dependsOn: ['order'],
        outputs: ['{projectRoot}/out/process'],
        cache: true,
      });
  });

  it('processes every pipeline, serves a rerun from the cache with identical outputs, and reruns only the pipeline whose input changed', async () => {
    const first = await runNx(ws, ['run-many', '-t', TARGET]);
    expect(first.code, first.output).toBe(0);
    expect(sources(first.output), first.output).toEqual(all('ran'));
    const before = outputs();
    for (const p of PIPELINES) {
      // The order target lists the source files; the process target wrote a dataset.
      const order = before[p].get('order/data_order.txt')?.toString() ?? '';
      expect(order.trim().split('\n').length, `${p} data_order.txt`).toBeGreaterThan(0);
      if (TARGET === 'process')
        expect(
          [...before[p].keys()].some((k) => k.startsWith('process/')),
          `${p} process output`,
        ).toBe(true);
    }

    // Remove the outputs: the second run must bring them back from the cache, byte for byte.
    for (const p of PIPELINES) rmSync(join(ws, p, 'out'), { recursive: true, force: true });
    const second = await runNx(ws, ['run-many', '-t', TARGET]);
    expect(second.code, second.output).toBe(0);
    expect(sources(second.output), second.output).toEqual(all('cache'));
    expect(outputs()).toEqual(before);

    // Change one source record of the demo: only the demo's tasks run again.
    const demoData = join(ws, 'data/sample/ftdp');
    const file = join(
      demoData,
      readdirSync(demoData, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.json'))
        .sort()[0],
    );
    appendFileSync(file, readFileSync(file, 'utf8').split('\n')[0] + '\n');
    const third = await runNx(ws, ['run-many', '-t', TARGET]);
    expect(third.code, third.output).toBe(0);
    expect(sources(third.output), third.output).toEqual({
      ...all('ran', ['demo']),
      ...all('cache', ['internlm-sample']),
    });
    const after = outputs();
    expect(after['pipelines/internlm-sample']).toEqual(before['pipelines/internlm-sample']);
    // One more record: a different dataset (the file names, and so the data order, are unchanged).
    if (TARGET === 'process') expect(after['pipelines/demo']).not.toEqual(before['pipelines/demo']);
    expect(after['pipelines/demo'].get('order/data_order.txt')).toEqual(
      before['pipelines/demo'].get('order/data_order.txt'),
    );
  });
});
