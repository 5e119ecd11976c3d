import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/** Workspace packages resolve to their TypeScript sources through this export condition. */
const SOURCE_CONDITION = '@typevisor/source';

const packages = readdirSync(new URL('./packages', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'import', 'default'] } },
  test: {
    testTimeout: 30_000,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, root: `packages/${name}`, include: ['test/**/*.test.ts'] },
      })),
      {
        extends: true as const,
        test: { name: 'examples', root: 'examples', include: ['**/*.test.ts'] },
      },
      {
        extends: true as const,
        test: {
          name: 'integration',
          root: 'tests',
          include: ['**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
