#!/usr/bin/env bash
# Creates .venv, installs the pinned requirements (only when requirements.txt
# changed since the last install), then installs this package into it as a
# user would (`pip install .`, which generates the gRPC code from proto/),
# again only when its sources or the .proto files changed. Idempotent, and
# it repairs what an interrupted or failed run left: each step's marker is
# written only once the step has succeeded, and a step without its marker
# is done again from scratch.
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

# The package, when it is here (the tests of this script use a stand-in
# directory without one). Its build requirements are in requirements.txt,
# so it is built without isolation: no download.
if [[ -f pyproject.toml ]]; then
    sources=$(find pyproject.toml setup.py README.md minikafka_client ../../proto \
        -type f \( -name '*.py' -o -name '*.proto' -o -name '*.toml' -o -name '*.md' -o -name py.typed \) \
        -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum)
    marker=.venv/installed-package.sha256
    if [[ "$sources" != "$(cat "$marker" 2>/dev/null)" ]]; then
        # setuptools builds in build/ and would pack what an earlier build
        # left there, such as a module since removed.
        rm -rf "$marker" build
        .venv/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
            --force-reinstall .
        printf '%s\n' "$sources" > "$marker"
    fi
fi
