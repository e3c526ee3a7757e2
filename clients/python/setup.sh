#!/usr/bin/env bash
# Creates .venv, installs the pinned requirements (only when requirements.txt
# changed since the last install) and generates the gRPC code. Idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi

marker=.venv/installed-requirements.txt
if ! cmp -s requirements.txt "$marker"; then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$marker"
fi

.venv/bin/python generate.py
