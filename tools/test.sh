#!/usr/bin/env bash
# The test command (`npm test`): set-up, every test, and a closing "N passed, M failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --browser || exit 1
mkdir -p out
npx vitest run --reporter=default --reporter=json --outputFile.json=out/vitest.json "$@"
rc=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync("out/vitest.json", "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || echo "0 passed, 1 failed"
exit $rc
