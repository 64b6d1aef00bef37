import { packageBuild } from '../../tsup.base';

export default packageBuild({ index: 'src/index.ts', harness: 'src/harness.ts', node: 'src/node.ts' });
