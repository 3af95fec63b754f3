#!/usr/bin/env bash
# One command: set up everything, then run the whole test suite (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npx tsc --noEmit
npm test
# The suites every runtime must pass, again with tasks in gVisor (test/support/runtimes.ts).
if [ -x /usr/bin/runsc ]; then npm run -s test:sandboxes; fi
