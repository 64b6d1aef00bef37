import { packageTests } from '../../vitest.shared.ts';

// The demo sessions run tens of millions of guest instructions: generous limits for busy CI hosts.
export default packageTests('guests', { testTimeout: 180_000 });
