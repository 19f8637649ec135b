import { describe, expect, it } from 'vitest';
import { histogram, renderTokens } from './inspect.ts';

describe('inspect rendering', () => {
  const ids = Int32Array.of(1, 2, 3, 4, 5);
  const labels = Int32Array.of(-100, -100, 3, 4, -100);

  it('brackets masked runs and marks piece boundaries without colour', async () => {
    expect(await renderTokens(ids, labels, [0, 3, 5], undefined, false, 100)).toBe('[1 2] 3 ‖ 4 [5]');
    expect(await renderTokens(ids, labels, [], undefined, false, 2)).toBe('[1 2] … (3 more tokens)');
  });

  it('uses ANSI dim for masked and green for trained tokens on a TTY', async () => {
    const s = await renderTokens(
      ids,
      labels,
      [],
      async (t) => Array.from(t, (x) => String.fromCharCode(96 + x)).join(''),
      true,
      100,
    );
    expect(s).toBe('\x1b[2;37mab\x1b[0m\x1b[32mcd\x1b[0m\x1b[2;37me\x1b[0m');
  });

  it('buckets lengths by powers of two', () => {
    expect(histogram([1, 2, 3, 4, 9], 4)).toBe(
      '              1        1 ##\n            2-3        2 ####\n            4-7        1 ##\n           8-15        1 ##\n',
    );
  });
});
