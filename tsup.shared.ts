/**
 * Shared tsup configuration for every `@typevisor/*` package.
 *
 * Each package's `tsup.config.ts` calls {@link createTsupConfig} with its entry
 * points, which must match the package's `exports` map.
 */
import { defineConfig, type Options } from 'tsup';

/** Entry name (as it appears under `dist/`) to source file. */
export type Entries = Record<string, string>;

/** Builds the tsup options used by all packages: ESM, declarations, source maps. */
export function createTsupConfig(
  entry: Entries,
  overrides: Options = {},
): ReturnType<typeof defineConfig> {
  return defineConfig({
    entry,
    format: ['esm'],
    target: 'es2022',
    platform: 'neutral',
    dts: { compilerOptions: { composite: false, customConditions: ['@typevisor/source'] } },
    sourcemap: true,
    clean: true,
    treeshake: true,
    splitting: false,
    skipNodeModulesBundle: true,
    ...overrides,
  });
}
