#!/usr/bin/env node
// Runs every package's tests in one vitest run and closes with the line CI reads:
// "N passed, N failed" summed over all packages (from vitest's JSON reporter).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'weft-test-'));
const report = join(dir, 'report.json');
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const r = spawnSync('npx', args, { cwd: root, stdio: 'inherit' });
let passed = 0,
  failed = 0,
  skipped = 0;
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed = j.numPassedTests ?? 0;
  failed = (j.numFailedTests ?? 0) + ((j.numFailedTestSuites ?? 0) ? 0 : 0);
  skipped = (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
  // A file that fails to load has no tests: count it as a failure so it cannot pass silently.
  for (const s of j.testResults ?? []) if (s.status === 'failed' && (s.assertionResults ?? []).length === 0) failed++;
}
rmSync(dir, { recursive: true, force: true });
const code = r.status ?? 1;
if (code !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code === 0 && failed === 0 ? 0 : 1);
