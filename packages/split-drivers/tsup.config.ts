import { createTsupConfig } from '../../tsup.shared.ts';

export default createTsupConfig({ index: 'src/index.ts', testing: 'src/testing/index.ts' });
