import { packageTests } from '../../vitest.shared.ts';

export default packageTests('decoder', { include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'] });
