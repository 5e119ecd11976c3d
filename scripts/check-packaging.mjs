// Checks every publishable package after `pnpm build`: publint (strict) finds packaging
// errors, and each export in the package's `exports` map must exist in dist/ with a .d.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

let problems = 0;
const root = new URL('../packages/', import.meta.url).pathname;
for (const dir of readdirSync(root)) {
  const pkgDir = join(root, dir);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const { messages } = await publint({ pkgDir, strict: true, level: 'suggestion' });
  for (const m of messages) {
    problems++;
    console.error(`${pkg.name}: [${m.type}] ${formatMessage(m, pkg) ?? m.code}`);
  }
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    for (const key of ['types', 'default']) {
      if (!existsSync(join(pkgDir, target[key]))) {
        problems++;
        console.error(
          `${pkg.name}: export "${sub}" ${key} → ${target[key]} is missing after build`,
        );
      }
    }
  }
  for (const [bin, target] of Object.entries(pkg.bin ?? {})) {
    const file = join(pkgDir, target);
    if (!existsSync(file) || !readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node')) {
      problems++;
      console.error(`${pkg.name}: bin "${bin}" → ${target} is missing or has no node shebang`);
    }
  }
  if (problems === 0) console.log(`${pkg.name}: ok (${Object.keys(pkg.exports).length} exports)`);
}
if (problems > 0) {
  console.error(`packaging: ${problems} problem(s)`);
  process.exit(1);
}
