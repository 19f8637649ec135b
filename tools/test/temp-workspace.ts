import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real workspace this test file lives in. */
export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * Make a small, throw-away copy of the weft workspace: the package sources (no tests), the nx
 * plugin, the given pipelines and the data they read, and a `node_modules` of links into the real
 * one (with `@weft/*` pointing at the copied packages, so the copy runs its own code).
 */
export function makeTempWorkspace(pipelines: string[]): string {
  const ws = mkdtempSync(join(tmpdir(), 'weft-nx-'));
  for (const f of ['package.json', 'package-lock.json', '.gitignore']) cpSync(join(REPO, f), join(ws, f));
  writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins: ['./tools/nx-plugin/index.cjs'] }, null, 2));
  cpSync(join(REPO, 'tools/package.json'), join(ws, 'tools/package.json'));
  cpSync(join(REPO, 'tools/nx-plugin'), join(ws, 'tools/nx-plugin'), { recursive: true });

  for (const pkg of readdirSync(join(REPO, 'packages'))) {
    cpSync(join(REPO, 'packages', pkg), join(ws, 'packages', pkg), {
      recursive: true,
      filter: (src) => {
        const name = basename(src);
        return name !== 'node_modules' && name !== 'test' && name !== '__pycache__' && !name.endsWith('.test.ts');
      },
    });
    const nested = join(REPO, 'packages', pkg, 'node_modules');
    if (existsSync(nested)) symlinkSync(nested, join(ws, 'packages', pkg, 'node_modules'));
  }

  for (const p of pipelines) {
    cpSync(join(REPO, p), join(ws, p), { recursive: true, filter: (src) => basename(src) !== 'out' });
    const cfg = JSON.parse(readFileSync(join(REPO, p, 'weft.pipeline.json'), 'utf8')) as { source: string };
    const src = relative(REPO, resolve(REPO, p, cfg.source));
    cpSync(join(REPO, src), join(ws, src), { recursive: true });
  }

  const nm = join(ws, 'node_modules');
  mkdirSync(join(nm, '@weft'), { recursive: true });
  for (const entry of readdirSync(join(REPO, 'node_modules'))) {
    if (entry === '@weft' || entry === '.package-lock.json') continue;
    symlinkSync(join(REPO, 'node_modules', entry), join(nm, entry));
  }
  for (const pkg of readdirSync(join(ws, 'packages'))) {
    const name = (JSON.parse(readFileSync(join(ws, 'packages', pkg, 'package.json'), 'utf8')) as { name: string }).name;
    symlinkSync(join(ws, 'packages', pkg), join(nm, name));
  }
  symlinkSync(join(ws, 'tools'), join(nm, '@weft/tools'));
  return ws;
}

/** Result of one nx invocation. */
export interface NxRun {
  code: number;
  output: string;
}

/**
 * Run nx in the copy with no daemon, no cloud, and caches kept inside the copy. Output is
 * static (no terminal UI) so its task lines can be read.
 */
export function runNx(ws: string, args: string[]): Promise<NxRun> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('NX_') && k !== 'CI') env[k] = v;
  Object.assign(env, {
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_SKIP_NX_CACHE: 'false',
    NX_CACHE_DIRECTORY: join(ws, '.nx/cache'),
    NX_WORKSPACE_DATA_DIRECTORY: join(ws, '.nx/workspace-data'),
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  });
  const nx = join(REPO, 'node_modules/nx/dist/bin/nx.js');
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [nx, ...args, '--output-style=static'], {
      cwd: ws,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', fail);
    child.on('close', (code) => ok({ code: code ?? 1, output }));
  });
}

/**
 * How each task of a run was served: "cache" or "ran", read from nx's task headers
 * (`> nx run demo:process  [local cache]`).
 */
export function taskSources(output: string): Record<string, 'cache' | 'ran'> {
  const out: Record<string, 'cache' | 'ran'> = {};
  // eslint-disable-next-line no-control-regex
  const clean = output.replace(/\x1b\[[0-9;]*m/g, '');
  for (const m of clean.matchAll(/^\s*> nx run ([^\s:]+:[^\s]+)(.*)$/gm)) {
    out[m[1]] = /\[(local cache|remote cache|existing outputs match the cache[^\]]*)\]/.test(m[2]) ? 'cache' : 'ran';
  }
  return out;
}

/** Every file under `dir` (relative path → bytes), for comparing outputs between runs. */
export function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}
