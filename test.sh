#!/usr/bin/env bash
# Runs every test (the README's test command). First installs what the
# tests need and a fresh Debian or Ubuntu machine lacks: Debian packages
# (with sudo when not root), then the Python and Node clients' packages from
# PyPI and npm. Arguments go to `cargo test`. Every test talks only to
# servers it starts itself on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Debian packages, each named when a command or file shows it is missing:
# - a C compiler, for the bundled SQLite and the TLS library;
# - Python's venv module with ensurepip (Debian splits it out);
# - Go, Debian's gRPC and protobuf libraries for it (the Go client builds
#   offline against them), and protoc with its Go plugins. The 1.5
#   github.com/golang/protobuf is named: gRPC's codec calls it, and apt would
#   otherwise pick 1.3, which predates the protobuf API generated code uses.
missing=()
command -v cc >/dev/null || missing+=(build-essential)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v go >/dev/null || missing+=(golang-go)
for package in golang-google-grpc-dev golang-google-protobuf-dev \
    golang-github-golang-protobuf-1-5-dev protobuf-compiler protoc-gen-go protoc-gen-go-grpc; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "test.sh: installing Debian packages: ${missing[*]}" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

bash clients/python/setup.sh
bash clients/node/setup.sh
cargo test --workspace "$@"
