import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type TrainConfig } from './config.ts';

const DIR = new URL('./configs/', import.meta.url).pathname;

/** The named starting configs (`weft list-cfg`): name and the first line of its comment. */
export function listConfigs(): { name: string; summary: string }[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => {
      const first = readFileSync(join(DIR, f), 'utf8')
        .split('\n')[0]!
        .replace(/^\/\/\s*/, '');
      return { name: f.slice(0, -3), summary: first };
    });
}

/**
 * Copy a named config into `dir` as `<name>.ts`, to edit and pass to `weft train`.
 *
 * @example
 * copyConfig('tiny_cpu_demo', '.'); // ./tiny_cpu_demo.ts
 */
export function copyConfig(name: string, dir: string): string {
  const src = join(DIR, `${name}.ts`);
  if (!existsSync(src))
    throw new Error(
      `no config named ${name}; \`weft list-cfg\` lists them: ${listConfigs()
        .map((c) => c.name)
        .join(', ')}`,
    );
  mkdirSync(dir, { recursive: true });
  const dst = join(dir, `${name}.ts`);
  if (existsSync(dst)) throw new Error(`${dst} exists; remove it or copy elsewhere`);
  copyFileSync(src, dst);
  return dst;
}

/** Path of a named config's file (`weft train tiny_cpu_demo` works without copying). */
export function namedConfigPath(name: string): string | undefined {
  const p = join(DIR, `${name}.ts`);
  return existsSync(p) ? p : undefined;
}

/**
 * Load a named config (validated), for callers outside the trainer such as `weft demo`.
 *
 * @example
 * const config = await loadNamedConfig('tiny_cpu_demo');
 */
export async function loadNamedConfig(name: string): Promise<TrainConfig> {
  const file = namedConfigPath(name);
  if (file === undefined)
    throw new Error(
      `no config named ${name}; \`weft list-cfg\` lists them: ${listConfigs()
        .map((c) => c.name)
        .join(', ')}`,
    );
  return loadConfig(file);
}
