import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DataError } from '@weft/core';
import { dataOrder, readDataOrder, writeDataOrder } from './data-order.ts';
import { python } from '../test/python.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const fixtureTree = join(here, '../test/fixtures/order-tree');

/** xtuner's walk with its `dirs.sort()` taking effect (a live os.walk): the order weft promises. */
const SORTED_WALK = `
import json, os, sys
top, ft = sys.argv[1], sys.argv[2]
out = []
for root, dirs, files in os.walk(top, followlinks=True):
    dirs.sort()
    for fn in sorted(files):
        if fn.endswith(ft):
            out.append(os.path.relpath(os.path.join(root, fn), top))
sys.stdout.write(json.dumps(out))
`;

const TREE = [
  'top.bin',
  'top.bin.meta',
  'readme.txt',
  'B.bin',
  'b.bin',
  'cn/\u4e2d\u6587/1.bin',
  'cn/\u4e2d\u6587/2.jsonl',
  'cn/a.bin',
  'cn/\u00e9.bin',
  'en/x/deep/deeper/1.bin',
  'en/x/2.bin',
  'en/x.bin',
  'en/y.json',
  'u/\u{1d518}.bin',
  'u/\uff5a.bin',
  'u/\u{1f600}/\u{10000}.bin',
  'u/\ufb01/f.bin',
  'u/Z.bin',
  'target/t1.bin',
  'target/in/t2.bin',
];

/** Build the tree creating entries in the given order (file systems may list in creation order). */
function makeTree(order: number[]): string {
  const root = tempDir('weft-order-');
  for (const k of order) {
    const p = join(root, TREE[k]!);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, 'x');
  }
  symlinkSync('target', join(root, 'link'));
  symlinkSync(join(root, 'target'), join(root, 'en', 'abs-link'));
  return root;
}

function shuffled(n: number, seed: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('dataOrder', () => {
  it("equals Python's sorted os.walk, whatever the creation order, for several suffixes", async () => {
    const forward = makeTree(TREE.map((_, i) => i));
    for (const fileType of ['.bin', '.json', '.jsonl']) {
      const expected = JSON.parse(python(SORTED_WALK, [forward, fileType]).toString()) as string[];
      expect(await dataOrder(forward, { fileType })).toEqual(expected);
      for (const seed of [1, 2, 3]) {
        const other = makeTree(shuffled(TREE.length, seed).reverse());
        expect(await dataOrder(other, { fileType })).toEqual(expected);
        rmSync(other, { recursive: true });
      }
    }
    const bins = await dataOrder(forward);
    // Code-point order: U+FF5A sorts before U+1D518 (UTF-16 order would put it after).
    expect(bins.indexOf('u/\uff5a.bin')).toBeLessThan(bins.indexOf('u/\u{1d518}.bin'));
    // A directory's files come before its subdirectories; symlinked dirs are followed.
    expect(bins.slice(0, 3)).toEqual(['B.bin', 'b.bin', 'top.bin']);
    expect(bins).toContain('link/in/t2.bin');
    expect(bins).toContain('en/abs-link/t1.bin');
  });

  it('refuses a symlink cycle with a clear error', async () => {
    const root = makeTree(TREE.map((_, i) => i));
    symlinkSync('..', join(root, 'cn', 'up'));
    await expect(dataOrder(root)).rejects.toThrow(/symbolic link cycle: .*cn\/up leads back to/);
  });

  it('refuses a missing folder', async () => {
    await expect(dataOrder('/nonexistent/weft')).rejects.toThrow(/does not exist/);
  });
});

describe('data_order.txt', () => {
  it("reads an order written by xtuner's get_data_order.py (committed fixture)", async () => {
    const file = join(fixtureTree, 'data_order.txt');
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(await readDataOrder(file, fixtureTree)).toEqual(lines);
    // Same files as weft's own order; only the subdirectory order may differ.
    expect([...(await dataOrder(fixtureTree))].sort()).toEqual([...lines].sort());
  });

  it('writes the format xtuner writes and reads it back', async () => {
    const root = makeTree(TREE.map((_, i) => i));
    const out = join(root, 'out', 'data_order.txt');
    const order = await dataOrder(root);
    await writeDataOrder(out, order);
    expect(readFileSync(out, 'utf8')).toBe(order.join('\n') + '\n');
    expect(await readDataOrder(out, root)).toEqual(order);
  });

  it('a listed file that is missing is a DataError naming the line', async () => {
    const root = makeTree(TREE.map((_, i) => i));
    const out = join(root, 'data_order.txt');
    writeFileSync(out, 'top.bin\ncn/a.bin\ngone/x.bin\n');
    const err = await readDataOrder(out, root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toMatch(/data_order\.txt: line 3: listed file .*gone\/x\.bin does not exist/);
  });
});

describe('weft order (CLI)', () => {
  it('writes data_order.txt and is stable across runs', () => {
    const root = makeTree(TREE.map((_, i) => i));
    const outDir = join(root, 'o');
    const run = (): string => {
      const r = spawnSync(
        'node',
        [join(repo, 'packages/cli/bin/weft.mjs'), 'order', root, '--file-type', '.bin', '--out', outDir],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/weft order: \d+ \.bin file\(s\)/);
      return readFileSync(join(outDir, 'data_order.txt'), 'utf8');
    };
    const first = run();
    const expected = JSON.parse(python(SORTED_WALK, [root, '.bin']).toString()) as string[];
    expect(first).toBe(expected.map((p) => `${p}\n`).join(''));
    expect(run()).toBe(first);
    const bad = spawnSync('node', [join(repo, 'packages/cli/bin/weft.mjs'), 'order', join(root, 'nope')], {
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/does not exist/);
  }, 30_000);
});
