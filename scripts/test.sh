#!/usr/bin/env bash
# The full test suite, as CI runs it: lint, typecheck, build, packaging checks, API docs,
# then every vitest project (packages, examples, cross-package integration tests).
# Ends with one line `tests: N passed, N failed[, N skipped]`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'test: %s failed\n' "$1" >&2; printf 'tests: 0 passed, 1 failed\n'; exit 1; }

step 'lint (biome)';               pnpm exec biome check . || fail lint
step 'typecheck (tsc -b)';         pnpm exec tsc -b tsconfig.json && pnpm exec tsc -p tools/x86-reference || fail typecheck
step 'build (tsup)';               pnpm run -s build >/dev/null || fail build
step 'packaging (publint)';        node scripts/check-packaging.mjs || fail packaging
step 'API docs (typedoc)';         pnpm exec typedoc --logLevel Warn || fail docs

step 'tests (vitest)'
report=$(mktemp -t vitest-report.XXXXXX.json)
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  // A suite that failed to load has no tests but must count as a failure.
  const broken = r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
  const failed = r.numFailedTests + broken;
  process.stdout.write(`\ntests: ${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : "") + "\n");
' "$report" || { printf 'tests: 0 passed, 1 failed\n'; exit 1; }
rm -f "$report"
exit $status
