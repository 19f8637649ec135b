import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Write InternLM tokenized files with numpy, as InternLM's tokenizer.py does: JSON lines
 * `{"tokens": [...]}` and a `.bin.meta` npy of (byte offset, token count) rows, int64.
 * Files are named 000.bin, 001.bin, ... so that data order is file order.
 */
export function writeBinFolderWithNumpy(dir: string, files: number[][][]): string[] {
  mkdirSync(dir, { recursive: true });
  const spec = join(dir, '.spec.json');
  writeFileSync(spec, JSON.stringify(files));
  execFileSync('python3', [
    '-c',
    `
import json, sys, os, numpy as np
d, files = sys.argv[1], json.load(open(sys.argv[2]))
for f, lines in enumerate(files):
    path = os.path.join(d, "%03d.bin" % f)
    meta, off = [], 0
    with open(path, "wb") as out:
        for toks in lines:
            b = (json.dumps({"tokens": toks}) + "\\n").encode()
            meta.append((off, len(toks)))
            out.write(b); off += len(b)
    with open(path + ".meta", "wb") as m:
        np.save(m, np.array(meta, dtype=np.int64).reshape(-1, 2))
os.remove(sys.argv[2])
`,
    dir,
    spec,
  ]);
  return files.map((_, f) => join(dir, `${String(f).padStart(3, '0')}.bin`));
}
