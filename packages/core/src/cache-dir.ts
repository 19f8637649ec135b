import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * weft's cache folder (derived files it can rebuild: `.bin` token sidecars, the fast tokenizer's
 * tables and equality-gate verdict): `$WEFT_CACHE_DIR`, else `$XDG_CACHE_HOME/weft`, else
 * `~/.cache/weft`.
 *
 * @example
 * defaultCacheDir(); // '/home/me/.cache/weft'
 */
export function defaultCacheDir(): string {
  if (process.env.WEFT_CACHE_DIR) return process.env.WEFT_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg ? join(xdg, 'weft') : join(homedir(), '.cache', 'weft');
}
