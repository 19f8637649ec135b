import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DOC,
  FLOORS,
  REPO,
  docBlock,
  faceProblems,
  graphMarkdown,
  graphProblems,
  moduleCycles,
  readImports,
  readPackages,
  srcPathProblems,
} from '../package-graph.ts';
import { tempDir } from './temp-dir.ts';

/** A throwaway workspace: package.json dependencies and source files per package. */
function workspace(
  pkgs: Record<string, { deps?: string[]; devDeps?: string[]; files: Record<string, string> }>,
): string {
  const root = tempDir('weft-graph-');
  for (const [name, p] of Object.entries(pkgs)) {
    const dir = join(root, 'packages', name);
    mkdirSync(dir, { recursive: true });
    const scoped = (l: string[] = []) => Object.fromEntries(l.map((d) => [`@weft/${d}`, '*']));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: `@weft/${name}`, dependencies: scoped(p.deps), devDependencies: scoped(p.devDeps) }),
    );
    for (const [f, text] of Object.entries(p.files)) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
  }
  return root;
}

function problemsOf(root: string): string[] {
  const pkgs = readPackages(root);
  return [...graphProblems(pkgs, readImports(root, pkgs)), ...srcPathProblems(root, pkgs)];
}

describe('the package graph as built', () => {
  it('every import is declared, points to a lower floor and goes through the package face', () => {
    expect(problemsOf(REPO)).toEqual([]);
  });

  it('docs/ARCHITECTURE.md shows the graph generated from the package.json files', () => {
    const block = docBlock(readFileSync(join(REPO, DOC), 'utf8'));
    expect(block, `${DOC} has no package-graph block`).toBeDefined();
    expect(block, `${DOC} is stale: run npx tsx tools/package-graph.ts --write`).toBe(
      graphMarkdown(readPackages(REPO)),
    );
  });

  it('no module of a package imports itself back through others (dynamic imports count)', () => {
    expect(moduleCycles(REPO)).toEqual([]);
  });

  it('the checked faces export only what is used outside their package or documented', () => {
    expect(faceProblems(REPO)).toEqual([]);
  });

  it('every package sits on exactly one floor', () => {
    const names = FLOORS.flat();
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(readPackages(REPO).map((p) => p.name));
  });
});

// The rules catch what they claim to (on workspaces made to break them, with the real floor names).
describe('the checker', () => {
  const ok = { core: { files: { 'src/index.ts': 'export const x = 1;\n' } } };

  it('reports an import of a package not declared in package.json, with file and line', () => {
    const root = workspace({ ...ok, order: { files: { 'src/a.ts': "// header\nimport { x } from '@weft/core';\n" } } });
    expect(problemsOf(root)).toEqual([
      "packages/order/src/a.ts:2: imports '@weft/core': @weft/core is not in packages/order/package.json dependencies",
    ]);
  });

  it('reports an import of a package on the same floor or above, dynamic imports included', () => {
    const root = workspace({
      ...ok,
      order: {
        deps: ['core', 'convert'],
        files: { 'src/a.ts': "import '@weft/core';\nconst c = await import('@weft/convert');\n" },
      },
      convert: { deps: ['core'], files: { 'src/a.ts': "export { x } from '@weft/core';\n" } },
    });
    const p = problemsOf(root);
    expect(p).toContain(
      'packages/order/package.json: declares @weft/convert, which is not on a lower floor (FLOORS in tools/package-graph.ts)',
    );
    expect(p).toContain(
      "packages/order/src/a.ts:2: imports '@weft/convert': @weft/convert is not on a floor below @weft/order (FLOORS in tools/package-graph.ts)",
    );
    expect(p).toHaveLength(2);
  });

  it('lets tests use devDependencies, but not source files', () => {
    const root = workspace({
      ...ok,
      order: {
        devDeps: ['core'],
        files: {
          'src/a.test.ts': "import '@weft/core';\n",
          'test/h.ts': "import '@weft/core';\n",
          'src/b.ts': "import '@weft/core';\n",
        },
      },
    });
    expect(problemsOf(root)).toEqual([
      "packages/order/src/b.ts:1: imports '@weft/core': @weft/core is not in packages/order/package.json dependencies",
    ]);
  });

  it('reports reaching into another package by path, and loading its src/ by a string path', () => {
    const root = workspace({
      ...ok,
      order: {
        deps: ['core'],
        files: {
          'src/a.ts': "import { x } from '../../core/src/index.ts';\nconst f = 'packages/core/src/defaults.ts';\n",
        },
      },
    });
    expect(problemsOf(root)).toEqual([
      "packages/order/src/a.ts:1: imports '../../core/src/index.ts': reaches into @weft/core's src/ by path; import '@weft/core' (its src/index.ts) instead",
      'packages/order/src/a.ts:2: loads packages/core/src by path; use what @weft/core exports',
    ]);
  });

  it('reports a declared dependency nothing imports, and ignores imports inside comments', () => {
    const root = workspace({
      ...ok,
      order: {
        deps: ['core'],
        files: { 'src/a.ts': "/**\n * import { x } from '@weft/core';\n */\n// import '@weft/core';\n" },
      },
    });
    expect(problemsOf(root)).toEqual([
      'packages/order/package.json: declares @weft/core in dependencies but no source file imports it; remove it (or move it to devDependencies if only tests use it)',
    ]);
  });

  it('finds an import cycle closed by a dynamic import, and ignores type-only imports', () => {
    const root = workspace({
      core: {
        files: {
          'src/a.ts': "import { b } from './b.ts';\nexport const a = 1;\n",
          'src/b.ts': "export const b = async () => (await import('./a.ts')).a;\n",
          'src/c.ts': "import type { D } from './d.ts';\nexport type C = D;\n",
          'src/d.ts': "import { c } from './c.ts';\nexport type D = number;\n",
        },
      },
    });
    expect(moduleCycles(root)).toEqual(['packages/core/src/a.ts <-> packages/core/src/b.ts']);
  });

  it('reports a face value nobody outside uses, and export *; types, documented and used names pass', () => {
    const root = workspace({
      core: {
        files: {
          'src/index.ts': "export { used, documented, unused, type T } from './a.ts';\nexport * from './b.ts';\n",
          'README.md': 'call `documented`\n',
        },
      },
      order: {
        deps: ['core'],
        files: {
          'src/a.ts':
            "import { used } from '@weft/core';\n// unused is only named in a comment here, which counts: a doc mention is a use\n",
        },
      },
    });
    expect(faceProblems(root, ['core'])).toEqual([
      'packages/core/src/index.ts: re-exports a module wholesale (export *); name what other packages and users call',
    ]);
    writeFileSync(join(root, 'packages/order/src/a.ts'), "import { used } from '@weft/core';\n");
    expect(faceProblems(root, ['core'])).toEqual([
      'packages/core/src/index.ts: re-exports a module wholesale (export *); name what other packages and users call',
      'packages/core/src/index.ts: exports unused, which no other package, tool, example or doc uses; drop it from the face (tests import it from its module)',
    ]);
  });

  it('puts a package missing from FLOORS in the error', () => {
    const root = workspace({ ...ok, extra: { files: {} } });
    expect(() => problemsOf(root)).toThrow('packages/extra is on no floor: add it to FLOORS in tools/package-graph.ts');
  });

  it('generates a graph that changes with package.json', () => {
    const a = graphMarkdown(readPackages(workspace({ ...ok, order: { deps: ['core'], files: {} } })));
    expect(a).toContain('| 1 | `order` | `core` |');
    expect(a).toContain('  order --> core');
    const b = graphMarkdown(readPackages(workspace({ ...ok, order: { files: {} } })));
    expect(b).toContain('| 1 | `order` | — |');
    expect(b).not.toContain('order --> core');
  });
});
