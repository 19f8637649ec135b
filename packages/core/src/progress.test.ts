import { expect, it } from 'vitest';
import { Progress } from './progress.ts';

it('writes plain lines when not on a TTY, with rate and percentage', () => {
  const lines: string[] = [];
  const p = new Progress({ label: 'read', total: 10, unit: 'lines', intervalMs: 0, stream: { write: (s: string) => lines.push(s), isTTY: false } });
  for (let i = 0; i < 10; i++) p.tick();
  p.done();
  expect(lines.length).toBe(11);
  expect(lines.at(-1)).toMatch(/^read: 100\.0% 10\/10 lines \d+.* lines\/s ETA 00:00\n$/);
});

it('redraws a bar in place on a TTY', () => {
  let out = '';
  const p = new Progress({ label: 'pack', total: 4, intervalMs: 0, stream: { write: (s: string) => { out += s; }, isTTY: true, columns: 100 } });
  p.tick(2);
  expect(out).toContain('\r\x1b[2Kpack [');
  expect(out).toContain(' 50.0% 2/4 items');
});
