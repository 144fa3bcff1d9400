#!/usr/bin/env bash
# Installs the npm peer (into the git-ignored node_modules) and runs the side-by-side bench.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
(cd "$here" && npm install --no-audit --no-fund --silent)
cd "$here/.."
cargo bench -p handoff-states --bench workflow
