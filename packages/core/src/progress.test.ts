import { describe, expect, it } from 'vitest';
import { Progress, plainIntervalMs, type ProgressOptions } from './progress.ts';

/** A progress bar on a fake clock writing to a fake stream. */
function fake(opts: Partial<ProgressOptions> & { tty?: boolean }): {
  p: Progress;
  out: string[];
  clock: { t: number };
} {
  const out: string[] = [];
  const clock = { t: 1_000_000 };
  const p = new Progress({
    label: 'process',
    now: () => clock.t,
    stream: { write: (s: string) => out.push(s), isTTY: opts.tty ?? false, columns: 200 },
    ...opts,
  });
  return { p, out, clock };
}

describe('plain lines (not a TTY)', () => {
  it('shows bytes of the total, a rate and an ETA in the middle of a file, one line per interval', () => {
    const { p, out, clock } = fake({ total: 10_000_000, unit: 'B', intervalMs: 10_000, counters: ['samples', 'tok'] });
    // 2 MB/s for 3 s, updated every 100 ms as samples come: only one line per 10 s of clock.
    for (let i = 1; i <= 30; i++) {
      clock.t += 100;
      p.update(i * 200_000 * 0.5);
      p.add('samples');
      p.add('tok', 1000);
    }
    // Drawn at the first update, before that sample was counted.
    expect(out).toEqual(['process: 1.0% 100.0 kB of 10.0 MB, 1.0 MB/s, ETA 00:10 | 0 samples (0/s) | 0 tok (0/s)\n']);
    clock.t += 10_000; // 13 s in, 3 MB read
    p.update(3_000_000);
    expect(out[1]).toBe(
      'process: 30.0% 3.0 MB of 10.0 MB, 230.8 kB/s, ETA 00:30 | 30 samples (2.3/s) | 30.0k tok (2308/s)\n',
    );
    p.done();
    p.done();
    expect(out).toHaveLength(3);
    expect(out[2]).toMatch(/^process: 30\.0% 3\.0 MB of 10\.0 MB, 230\.8 kB\/s, took 00:13 \| /);
  });

  it('moves the rate while a file is in progress (no "0.0k tok/s" until it ends)', () => {
    const { p, out, clock } = fake({ intervalMs: 1000, unit: 'samples', counters: ['tok'] });
    for (let s = 1; s <= 5; s++) {
      clock.t += 1000;
      p.add('tok', 500); // draws: at most one line a second
      p.tick();
    }
    const rates = out.map((l) => /\((\S+)\/s\)/.exec(l)?.[1]);
    expect(rates).toEqual(['500', '500', '500', '500', '500']);
    expect(out[4]).toBe('process: 4 samples, 0.8 samples/s, elapsed 00:05 | 2500 tok (500/s)\n');
  });

  it('says "reused N of M" on a resumed run and keeps reused work out of the rate and ETA', () => {
    const { p, out, clock } = fake({
      total: 1000,
      unit: 'B',
      intervalMs: 0,
      counters: ['samples'],
      items: { total: 3, unit: 'files' },
    });
    p.reuse({ done: 400, counts: { samples: 40 } });
    expect(out.at(-1)).toBe(
      'process: 40.0% 400 B of 1.0 kB, 0 B/s, ETA --:-- | 40 samples (0/s) | 1/3 files, reused 1 of 3 from an earlier run\n',
    );
    clock.t += 2000;
    p.update(600); // 200 fresh bytes in 2 s
    p.add('samples', 20);
    expect(out.at(-1)).toBe(
      'process: 60.0% 600 B of 1.0 kB, 100 B/s, ETA 00:04 | 60 samples (10/s) | 1/3 files, reused 1 of 3 from an earlier run\n',
    );
    p.itemDone();
    p.reuse({ done: 400, counts: { samples: 40 } });
    p.done();
    expect(out.at(-1)).toBe(
      'process: 100.0% 1.0 kB of 1.0 kB, 100 B/s, took 00:02 | 100 samples (10/s) | 3/3 files, reused 2 of 3 from an earlier run\n',
    );
  });

  it('a run that reused everything says so, not "0 samples"', () => {
    const { p, out } = fake({ total: 50, unit: 'B', counters: ['samples'], items: { total: 2, unit: 'files' } });
    p.reuse({ done: 20, counts: { samples: 7 } });
    p.reuse({ done: 30, counts: { samples: 5 } });
    p.done();
    expect(out.at(-1)).toContain('| 12 samples (0/s) | 2/2 files, reused 2 of 2 from an earlier run\n');
  });

  it('writes nothing when disabled (--quiet)', () => {
    const { p, out } = fake({ total: 10, enabled: false });
    p.tick(5);
    p.note('hello');
    p.done();
    expect(out).toEqual([]);
  });
});

describe('a TTY', () => {
  it('redraws one bar in place and ends with a newline', () => {
    const { p, out, clock } = fake({ tty: true, label: 'pack', total: 4, unit: 'packs' });
    p.tick(2);
    clock.t += 50;
    p.tick(); // within 100 ms: not drawn
    clock.t += 100;
    p.tick();
    p.done();
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^\r\x1b\[2Kpack \[#{15}\.{15}\] 50\.0% 2\/4 packs, /);
    expect(out[2]).toMatch(/^\r\x1b\[2Kpack \[#{30}\] 100\.0% 4\/4 packs, .* took 00:00\n$/);
  });

  it('never writes a line wider than the terminal (a wrapped line cannot be redrawn)', () => {
    const out: string[] = [];
    const p = new Progress({
      label: 'process',
      total: 1e9,
      unit: 'B',
      counters: ['samples', 'tok'],
      items: { total: 9, unit: 'files' },
      stream: { write: (s: string) => out.push(s), isTTY: true, columns: 60 },
    });
    p.update(5e8);
    const visible = out[0]!.replace('\r\x1b[2K', '');
    expect(visible.length).toBeLessThan(60);
    expect(visible).toMatch(/^process \[#+\.+\] 50\.0%/);
  });

  it('puts a note on its own line', () => {
    const { p, out } = fake({ tty: true, label: 'pack' });
    p.note('reused out/packed (3 packs) from an earlier run');
    expect(out).toEqual(['\r\x1b[2Kpack: reused out/packed (3 packs) from an earlier run\n']);
  });
});

describe('WEFT_PROGRESS_INTERVAL', () => {
  it('sets the seconds between plain lines, and a bad value is an error naming it', () => {
    expect(plainIntervalMs({})).toBe(10_000);
    expect(plainIntervalMs({ WEFT_PROGRESS_INTERVAL: '2.5' })).toBe(2500);
    expect(() => plainIntervalMs({ WEFT_PROGRESS_INTERVAL: 'soon' })).toThrow(
      /WEFT_PROGRESS_INTERVAL must be a number of seconds/,
    );
  });
});
