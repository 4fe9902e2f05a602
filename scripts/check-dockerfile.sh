#!/usr/bin/env bash
# The Dockerfile's build steps, run without Docker (there is no engine on the CI machine): the build
# stage's COPY and RUN lines in a scratch copy of the build context, then the runtime stage's files.
# Slow (npm ci, npm run build: minutes), so .ci/run calls it beside the test suite, not inside it.
# --keep leaves the scratch directory for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm ci reuses this machine's npm cache instead of downloading every package again.
export npm_config_prefer_offline=true
exec node --import tsx scripts/check-dockerfile.ts "$@"
