/**
 * One seeded hostile variant of a valid input, for fuzz tests of readers and commands: random
 * bytes, a truncation, flipped bytes, a huge or odd number where digits were, invalid UTF-8,
 * deep nesting, an empty or blank file, a stray line break, or lines duplicated and dropped.
 * The same `random` sequence gives the same variant, so a failing case reproduces from its seed.
 *
 * @example
 * const r = seededRandom(7);
 * const { name, bytes } = mutateBytes(readFileSync('a.jsonl'), r);
 */
export function mutateBytes(base: Uint8Array, random: () => number): { name: string; bytes: Buffer } {
  const b0 = Buffer.from(base);
  const at = (): number => Math.floor(random() * (b0.length + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  switch (Math.floor(random() * 9)) {
    case 0:
      return {
        name: 'random bytes',
        bytes: Buffer.from(Array.from({ length: Math.floor(random() * 400) }, () => Math.floor(random() * 256))),
      };
    case 1:
      return { name: 'truncated', bytes: b0.subarray(0, at()) };
    case 2: {
      const b = Buffer.from(b0);
      for (let k = 0; k < 1 + Math.floor(random() * 5); k++)
        if (b.length > 0) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
      return { name: 'flipped bytes', bytes: b };
    }
    case 3: {
      const big = pick([
        '99999999999999999999999',
        '-2147483649',
        '2147483648',
        '1e400',
        '-0',
        '1.5',
        'NaN',
        '0x10',
        '1'.repeat(5000),
      ]);
      return {
        name: `huge number ${big.slice(0, 12)}`,
        bytes: Buffer.from(b0.toString('latin1').replace(/[0-9]+/, big), 'latin1'),
      };
    }
    case 4: {
      const p = at();
      return {
        name: 'invalid utf-8',
        bytes: Buffer.concat([
          b0.subarray(0, p),
          Buffer.from(pick([[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80]])),
          b0.subarray(p),
        ]),
      };
    }
    case 5:
      return { name: 'deep nesting', bytes: Buffer.from(`${'['.repeat(100_000)}\n${b0.toString('latin1')}`, 'latin1') };
    case 6:
      return { name: pick(['empty', 'blank']), bytes: Buffer.from(pick(['', ' \n\n\t\r\n'])) };
    case 7: {
      const p = at();
      return {
        name: 'line break inserted',
        bytes: Buffer.concat([b0.subarray(0, p), Buffer.from(pick(['\n', '\r\n', '\r', '\n\n'])), b0.subarray(p)]),
      };
    }
    default: {
      const lines = b0.toString('latin1').split('\n');
      lines.splice(Math.floor(random() * lines.length), 0, lines[Math.floor(random() * lines.length)]!);
      lines.splice(Math.floor(random() * lines.length), 1);
      return { name: 'lines duplicated and dropped', bytes: Buffer.from(lines.join('\n'), 'latin1') };
    }
  }
}
