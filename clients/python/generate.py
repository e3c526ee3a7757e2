"""Generates the gRPC code for minikafka into ``minikafka_client/_generated``.

Run with the virtual environment's Python (``.venv/bin/python generate.py``;
``setup.sh`` does it). The generated code is not committed.

protoc writes imports by proto path (``from minikafka.v1 import
minikafka_pb2``); they are rewritten to live under
``minikafka_client._generated`` so that no top-level ``minikafka`` or
``protocol`` package is needed (``protocol`` especially is a name other
code may use).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
PROTOS = ["minikafka/v1/minikafka.proto", "protocol/minikafka.proto"]
PACKAGE = "minikafka_client._generated"
OUT = HERE / "minikafka_client" / "_generated"

# Top-level packages of the generated code whose imports are rewritten.
_OWN_IMPORT = re.compile(r"^(from|import) (minikafka\.v1|protocol)\b", re.MULTILINE)


def main() -> int:
    """Regenerates everything from scratch; returns the exit status."""
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    # The well-known types (timestamp, duration) ship with grpcio-tools.
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={OUT}",
            f"--pyi_out={OUT}",
            f"--grpc_python_out={OUT}",
            *PROTOS,
        ]
    )
    if status != 0:
        print(f"generate.py: protoc failed with status {status}", file=sys.stderr)
        return 1
    for path in OUT.rglob("*.py*"):
        text = path.read_text()
        fixed = _OWN_IMPORT.sub(lambda m: f"{m[1]} {PACKAGE}.{m[2]}", text)
        if fixed != text:
            path.write_text(fixed)
    for directory in [OUT, *(p for p in OUT.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
