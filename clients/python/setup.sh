#!/usr/bin/env bash
# Creates .venv, installs the pinned requirements (only when requirements.txt
# changed since the last install) and generates the gRPC code. Idempotent,
# and it repairs what an interrupted or failed run left: each step's marker
# is written only once the step has succeeded, and a step without its
# marker is done again from scratch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# `python3 -m venv` can fail half-way (on Debian and Ubuntu without the
# python3-venv package it leaves a .venv with no pip): such a .venv is
# removed and made again, never trusted.
created=.venv/created-by-setup.sh
if [[ ! -f "$created" ]]; then
    rm -rf .venv
    if ! python3 -m venv .venv; then
        rm -rf .venv
        echo "setup.sh: 'python3 -m venv' failed; on Debian or Ubuntu, install python3-venv" >&2
        exit 1
    fi
    touch "$created"
fi

marker=.venv/installed-requirements.txt
if ! cmp -s requirements.txt "$marker"; then
    rm -f "$marker"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$marker"
fi

.venv/bin/python generate.py
