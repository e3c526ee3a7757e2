"""The build step pyproject.toml cannot declare: generating the gRPC code.

The code is generated from the ``.proto`` files with grpcio-tools (a build
requirement) into the wheel, under ``minikafka_client._generated``; it is
never committed. In the repository the ``.proto`` files are read from
``../../proto``; an sdist carries its own copy in ``proto/``, so a wheel
builds from it anywhere.

protoc writes imports by proto path (``from minikafka.v1 import
minikafka_pb2``); they are rewritten to live under
``minikafka_client._generated`` so that no top-level ``minikafka`` or
``protocol`` package is needed (``protocol`` especially is a name other
code may use).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PROTOS = ["minikafka/v1/minikafka.proto", "protocol/minikafka.proto"]
GENERATED = "minikafka_client._generated"
# Top-level packages of the generated code whose imports are rewritten.
_OWN_IMPORT = re.compile(r"^(from|import) (minikafka\.v1|protocol)\b", re.MULTILINE)


def proto_root() -> Path:
    """The sdist's copy of the .proto files, else the repository's."""
    for root in (HERE / "proto", HERE.parent.parent / "proto"):
        if all((root / proto).is_file() for proto in PROTOS):
            return root
    raise SystemExit(f"setup.py: cannot find {PROTOS} in {HERE / 'proto'} or ../../proto")


def generate(out: Path) -> None:
    """Generates the gRPC code, with type stubs, into ``out`` from scratch."""
    import grpc_tools
    from grpc_tools import protoc

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # The well-known types (timestamp, duration) ship with grpcio-tools.
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_root()}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *PROTOS,
        ]
    )
    if status != 0:
        raise SystemExit(f"setup.py: protoc failed with status {status}")
    for path in out.rglob("*.py*"):
        text = path.read_text()
        fixed = _OWN_IMPORT.sub(lambda m: f"{m[1]} {GENERATED}.{m[2]}", text)
        if fixed != text:
            path.write_text(fixed)
    for directory in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()


class BuildWithGeneratedCode(build_py):
    """Copies the package, then generates the gRPC code beside it."""

    def run(self) -> None:
        super().run()
        generate(Path(self.build_lib, *GENERATED.split(".")))


class SdistWithProtos(sdist):
    """Puts a copy of the .proto files in the sdist, for building from it."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        root = proto_root()
        for proto in PROTOS:
            target = Path(base_dir, "proto", proto)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / proto, target)


setup(cmdclass={"build_py": BuildWithGeneratedCode, "sdist": SdistWithProtos})
