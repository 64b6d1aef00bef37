import { packageTests } from '../../vitest.shared.ts';

// Booting the demo kernel takes a few seconds: generous limits for busy CI hosts.
export default packageTests('cli', { testTimeout: 180_000 });
