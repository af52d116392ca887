"""Generate the Python code for governance.proto: the one place that runs protoc.

    python -m protocol.codegen            # (re)write the generated modules
    python -m protocol.codegen --check    # exit 1 if they are stale

The generated modules are committed so that a fresh clone runs without a
build step; ``--check`` (run by the test suite) keeps them honest. Output
depends on the installed grpcio-tools version (it embeds the protobuf and
grpc versions), so a version bump shows up as a stale-file failure: run
``scripts/gen-proto`` and commit the result.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PACKAGE = "protocol"
PROTOCOL_DIR = Path(__file__).resolve().parent
PROTO_FILE = PROTOCOL_DIR / "governance.proto"
GENERATED_NAMES = ("governance_pb2.py", "governance_pb2_grpc.py", "governance_pb2.pyi")

# protoc writes sibling imports as top-level modules (`import governance_pb2 as
# governance__pb2`), which only works with protocol/ itself on sys.path.
_SIBLING_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)


class CodegenError(Exception):
    """Root of the errors raised while generating code from the .proto."""


class ProtocFailed(CodegenError):
    def __init__(self, exit_code: int) -> None:
        super().__init__(f"protoc failed with exit code {exit_code} (its errors are above)")
        self.exit_code = exit_code


class MissingOutput(CodegenError):
    def __init__(self, name: str) -> None:
        super().__init__(f"protoc did not produce {name}")
        self.name = name


@dataclass(frozen=True)
class StaleFile:
    """A generated file whose committed content differs from a fresh generation."""

    name: str
    reason: str
    diff: str


def fix_imports(source: str) -> str:
    """Rewrite protoc's top-level sibling imports into imports from the package."""
    return _SIBLING_IMPORT.sub(rf"from {PACKAGE} import \1 as \2", source)


def _well_known_include() -> str:
    # grpc_tools ships google/protobuf/*.proto; protoc needs them on the include
    # path as soon as the .proto imports a well-known type.
    return str(resources.files("grpc_tools") / "_proto")


def run_protoc(proto: Path, out_dir: Path) -> None:
    """Run grpc_tools' bundled protoc on ``proto``, writing into ``out_dir``."""
    from grpc_tools import protoc  # imported late: only generation needs it

    args = [
        "grpc_tools.protoc",
        f"--proto_path={proto.parent}",
        f"--proto_path={_well_known_include()}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(proto),
    ]
    exit_code = protoc.main(args)
    if exit_code != 0:
        raise ProtocFailed(exit_code)


def generate(proto: Path = PROTO_FILE) -> dict[str, str]:
    """Return the generated files' final contents, keyed by file name."""
    with tempfile.TemporaryDirectory(prefix="gen-proto-") as tmp:
        out_dir = Path(tmp)
        run_protoc(proto, out_dir)
        contents: dict[str, str] = {}
        for name in GENERATED_NAMES:
            path = out_dir / name
            if not path.exists():
                raise MissingOutput(name)
            contents[name] = fix_imports(path.read_text(encoding="utf-8"))
    return contents


def write(contents: dict[str, str], target_dir: Path = PROTOCOL_DIR) -> list[Path]:
    written = []
    for name, text in contents.items():
        path = target_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_files(contents: dict[str, str], target_dir: Path = PROTOCOL_DIR) -> list[StaleFile]:
    """Compare fresh output with what is on disk; empty when everything is current."""
    stale = []
    for name, fresh in contents.items():
        path = target_dir / name
        if not path.exists():
            stale.append(StaleFile(name, "missing", ""))
            continue
        current = path.read_text(encoding="utf-8")
        if current != fresh:
            diff = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    fromfile=f"{PACKAGE}/{name} (committed)",
                    tofile=f"{PACKAGE}/{name} (generated)",
                    n=1,
                )
            )
            stale.append(StaleFile(name, "differs from a fresh generation", diff))
    return stale


def _report_stale(stale: Sequence[StaleFile], max_diff_lines: int = 40) -> None:
    print(
        "protocol.codegen: generated code is out of date with governance.proto:",
        file=sys.stderr,
    )
    for item in stale:
        print(f"  {PACKAGE}/{item.name}: {item.reason}", file=sys.stderr)
    for item in stale:
        lines = item.diff.splitlines()
        if lines:
            print("\n".join(lines[:max_diff_lines]), file=sys.stderr)
            if len(lines) > max_diff_lines:
                print(f"  ... ({len(lines) - max_diff_lines} more diff lines)", file=sys.stderr)
    print("run scripts/gen-proto and commit the result", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocol.codegen", description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed generated files are stale",
    )
    args = parser.parse_args(argv)
    try:
        contents = generate()
    except CodegenError as error:
        print(f"protocol.codegen: {error}", file=sys.stderr)
        return 2
    if args.check:
        stale = stale_files(contents)
        if stale:
            _report_stale(stale)
            return 1
        print("protocol.codegen: generated code is up to date")
        return 0
    for path in write(contents):
        print(f"protocol.codegen: wrote {path.relative_to(PROTOCOL_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
