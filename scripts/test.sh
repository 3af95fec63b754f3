#!/usr/bin/env bash
# One command: set up everything, then run the whole test suite (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npx tsc --noEmit
exec npm test
