import { createTsupConfig } from '../../tsup.shared.ts';

export default createTsupConfig({
  index: 'src/index.ts',
  wire: 'src/wire/index.ts',
  node: 'src/node/index.ts',
});
