import { packageTests } from '../../vitest.shared.ts';

/** The guest-boot suite: large third-party guests, minutes per run (`pnpm test:guest`). */
export default packageTests('guests (guest-boot suite)', {
  include: ['guest-tests/**/*.guest.test.ts'],
  testTimeout: 30 * 60_000,
});
