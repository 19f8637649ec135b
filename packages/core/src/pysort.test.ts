import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { comparePython } from './pysort.ts';

it('sorts names as Python does (code point order), not by UTF-16 units', () => {
  const names = ['b', 'a', 'Z', '数据', 'é', '\u{1F600}x', '\uFF21', 'a b', 'ab', '\u{10000}', '\uE000', ''];
  const ours = [...names].sort(comparePython);
  const py = JSON.parse(
    execFileSync('python3', ['-c', 'import json,sys; print(json.dumps(sorted(json.load(sys.stdin))))'], {
      input: JSON.stringify(names),
    }).toString(),
  );
  expect(ours).toEqual(py);
  expect([...names].sort()).not.toEqual(py); // JS's default order really differs here
});
