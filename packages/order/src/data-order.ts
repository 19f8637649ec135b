import { existsSync, statSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { comparePython, DataError, writeFileAtomic } from '@weft/core';

/** Options of {@link dataOrder}. */
export interface DataOrderOptions {
  /** Keep files whose name ends with this (xtuner's `--file-type`). Default '.bin'. */
  fileType?: string;
}

/**
 * The files of `folder` in xtuner's data order, as paths relative to `folder` ('/' separated):
 * a pre-order walk where a directory's matching files come first (sorted), then each
 * subdirectory in turn (sorted; xtuner leaves this to the file system). Names are compared by
 * code point, as Python sorts. Symlinked directories are followed; a link back into the current
 * path is refused, since following it would never end.
 *
 * @example
 * const order = await dataOrder('data/tokenized', { fileType: '.bin' });
 * // ['cn/a.bin', 'cn/b.bin', 'en/x/c.bin', ...]
 */
export async function dataOrder(folder: string, options: DataOrderOptions = {}): Promise<string[]> {
  const fileType = options.fileType ?? '.bin';
  let top: string;
  try {
    top = await realpath(folder);
    if (!(await stat(top)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new Error(`data folder ${folder} does not exist or is not a directory`);
  }
  const out: string[] = [];
  await walk(folder, '', [top], fileType, out);
  return out;
}

async function walk(dir: string, rel: string, onPath: string[], fileType: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of entries) {
    let isDir = e.isDirectory();
    if (e.isSymbolicLink()) {
      // Follow the link, as os.walk(followlinks=True) does.
      try {
        isDir = (await stat(join(dir, e.name))).isDirectory();
      } catch {
        if (e.name.endsWith(fileType)) {
          throw new Error(
            `${join(dir, e.name)} is a broken symbolic link: fix or remove it before ordering ${fileType} files`,
          );
        }
        continue;
      }
    }
    if (isDir) dirs.push(e.name);
    else if (e.name.endsWith(fileType)) files.push(e.name);
  }
  files.sort(comparePython);
  dirs.sort(comparePython);
  for (const f of files) out.push(rel + f);
  for (const d of dirs) {
    const path = join(dir, d);
    const real = await realpath(path);
    if (onPath.includes(real)) {
      throw new Error(
        `symbolic link cycle: ${path} leads back to ${real}, which contains it; remove the link or order a folder without it`,
      );
    }
    onPath.push(real);
    await walk(path, `${rel}${d}/`, onPath, fileType, out);
    onPath.pop();
  }
}

/** The text of a `data_order.txt`: one relative path per line, each ending in '\n' (xtuner's format). */
export function formatDataOrder(paths: readonly string[]): string {
  for (const p of paths) {
    if (p.includes('\n') || p.includes('\r'))
      throw new Error(`cannot write a path with a line break to a data order file: ${JSON.stringify(p)}`);
  }
  return paths.map((p) => `${p}\n`).join('');
}

/**
 * Write `data_order.txt` atomically.
 *
 * @example
 * await writeDataOrder('out/data_order.txt', await dataOrder('data', { fileType: '.bin' }));
 */
export async function writeDataOrder(file: string, paths: readonly string[]): Promise<void> {
  await writeFileAtomic(file, formatDataOrder(paths));
}

/**
 * Read a `data_order.txt` (xtuner's or weft's) and check that every listed file exists under
 * `root`. Returns the relative paths in file order; blank lines are ignored and a trailing '\r'
 * is tolerated.
 *
 * @example
 * const files = await readDataOrder('out/data_order.txt', 'data');
 * // files.map((f) => join('data', f)) are the inputs, in order
 */
export async function readDataOrder(file: string, root: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // xtuner strips each line; keep inner spaces, which file names may have.
    const p = lines[i]!.replace(/\r$/, '');
    if (p.trim() === '') continue;
    // Like Python's os.path.join (xtuner): an absolute path in the list stands on its own.
    const full = isAbsolute(p) ? p : join(root, p);
    if (!existsSync(full) || !statSync(full).isFile()) {
      throw new DataError(
        `listed file ${full} does not exist (or is not a file): regenerate the order with \`weft order ${root}\` or restore the file`,
        { file, line: i + 1 },
        { reason: 'missing-file' },
      );
    }
    out.push(p);
  }
  return out;
}
