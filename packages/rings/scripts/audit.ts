/**
 * The sensitive-instruction audit: every decoder form that is not innocuous, grouped by class,
 * with what it does when a ring-0 guest kernel runs deprivileged and the SDM section.
 *
 *   pnpm --filter @ringzero/rings audit
 */
import { mnemonicOf } from '@ringzero/decoder';
import { type DeprivilegedBehaviour, SENSITIVITY, type SensitivityEntry } from '../src/sensitivity';

const groups = new Map<SensitivityEntry, Set<string>>();
for (let code = 1; code < SENSITIVITY.length; code++) {
  const e = SENSITIVITY[code]!;
  if (e.class === 'innocuous') continue;
  const set = groups.get(e) ?? new Set<string>();
  set.add(mnemonicOf(code));
  groups.set(e, set);
}
const counts = { privileged: 0, iopl: 0, sensitive: 0 };
for (const cls of ['privileged', 'iopl', 'sensitive'] as const) {
  console.log(`\n${cls.toUpperCase()}`);
  for (const [e, mnemonics] of groups) {
    if (e.class !== cls) continue;
    counts[cls] += mnemonics.size;
    const describe = (d: DeprivilegedBehaviour) =>
      d.kind === 'fault'
        ? `fault #${d.vector === 13 ? 'GP' : d.vector === 6 ? 'UD' : d.vector}(${d.errorCode}) when ${d.when}`
        : d.kind === 'silent'
          ? `silent: ${d.effect} (${d.when})`
          : '';
    const what = describe(e.deprivileged);
    console.log(`  ${[...mnemonics].join(', ')}`);
    console.log(`      ${e.summary}`);
    console.log(`      deprivileged: ${what}   [SDM ${e.sdm}]`);
    if (e.control) console.log(`      with ${e.control.flag} set: ${describe(e.control.set)}`);
  }
}
console.log(
  `\n${counts.privileged} privileged, ${counts.iopl} IOPL-checked, ${counts.sensitive} sensitive-but-unprivileged mnemonics`,
);
