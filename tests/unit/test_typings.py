"""The hand-written stubs in typings/ name only what the real libraries have.

A stub that names a function the library lacks (or lost in an upgrade) would let
mypy pass code that fails at run time; the stubs' signatures are checked by
reading, this test checks that every name they declare exists.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

TYPINGS = Path(__file__).resolve().parents[2] / "typings"
STUBS = sorted(TYPINGS.rglob("*.pyi"))


def _module_name(stub: Path) -> str:
    parts = stub.relative_to(TYPINGS).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _declared(tree: ast.Module) -> list[tuple[str, ...]]:
    """Top-level names, and the methods of top-level classes, as attribute paths.

    Private names (type aliases of the stub) and instance attributes (set in
    ``__init__``, absent from the class) are left out.
    """
    paths: list[tuple[str, ...]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            paths.append((node.name,))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            paths.append((node.target.id,))
        elif isinstance(node, ast.ClassDef):
            paths.append((node.name,))
            paths.extend((node.name, item.name) for item in node.body
                         if isinstance(item, ast.FunctionDef))
    return [path for path in paths if not path[-1].startswith("_") or path[-1] == "__init__"]


@pytest.mark.parametrize("stub", STUBS, ids=lambda stub: str(stub.relative_to(TYPINGS)))
def test_every_name_a_stub_declares_exists_in_the_library(stub: Path) -> None:
    module = importlib.import_module(_module_name(stub))
    missing = []
    for path in _declared(ast.parse(stub.read_text(encoding="utf-8"))):
        target: object = module
        for name in path:
            if not hasattr(target, name):
                missing.append(".".join(path))
                break
            target = getattr(target, name)
    assert missing == []
