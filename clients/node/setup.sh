#!/usr/bin/env bash
# Installs the locked dependencies (`npm ci`) unless the last install
# finished for this very package-lock.json. The marker is written only after
# `npm ci` succeeds, so a half-finished node_modules is never trusted: the
# next run installs again (`npm ci` starts by removing node_modules).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

marker=node_modules/.installed-package-lock.json
if ! cmp -s package-lock.json "$marker"; then
    npm ci --no-audit --no-fund
    cp package-lock.json "$marker"
fi
