// Reads each workspace package's vitest JSON report (test-results.json) and prints one line per
// package and a closing `tests: N passed, N failed` line. Exits non-zero when a test failed or a
// package that has test files produced no report.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'apps'];
let passed = 0;
let failed = 0;
let skipped = 0;
let problems = 0;
for (const root of roots) {
  if (!existsSync(root)) continue;
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const report = join(dir, 'test-results.json');
    if (!existsSync(report)) {
      console.log(`  ${dir}: no test report`);
      problems++;
      continue;
    }
    count(dir, report);
    // The guest-boot suite of a package, when it ran (large third-party guests).
    const guest = join(dir, 'guest-test-results.json');
    if (existsSync(guest)) count(`${dir} (guest-boot suite)`, guest);
  }
}

function count(label, report) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const p = r.numPassedTests ?? 0;
  const f = (r.numFailedTests ?? 0) + (r.numFailedTestSuites ?? 0);
  const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  passed += p;
  failed += f;
  skipped += s;
  console.log(`  ${label}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''}`);
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || problems > 0 ? 1 : 0);
