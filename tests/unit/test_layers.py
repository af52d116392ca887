"""Imports point one way, top to bottom, so that each layer reads without the ones above.

    tools        bench, chaos, mock_governance, client, harness, scripts (and the tests)
    supervision  the launcher, the supervisors, the tree
    actors       the node's actors and their pure parts
    foundation   runtime (per-process facts), nodeconfig, protocol, btc

A module may import its own layer and the layers below it, never one above.
Inside the foundation, btc, protocol and nodeconfig import no other package of
the node except btc (nodeconfig checks keys with it); runtime imports nodeconfig.
Type-only imports (under ``if TYPE_CHECKING:``) count as imports: a layer that
names a type from above still depends on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nodeconfig.names import ACTOR_NAMES, SUPERVISORS, WORKERS
from supervision import tree

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("actors", "bench", "btc", "chaos", "mock_governance", "nodeconfig", "protocol",
            "runtime", "supervision", "client", "harness")
LAYER = {
    "bench": 3, "chaos": 3, "mock_governance": 3, "client": 3, "harness": 3,
    "supervision": 2,
    "actors": 1,
    "runtime": 0, "nodeconfig": 0, "protocol": 0, "btc": 0,
}
# Within the foundation: what each package may use besides itself.
FOUNDATION_ALLOWED = {
    "btc": set(),
    "protocol": set(),
    "nodeconfig": {"btc"},
    "runtime": {"nodeconfig"},
}


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES if (REPO / package).is_dir()
                  for path in (REPO / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & (set(LAYER) | {"tests"})


def _violations(path: Path) -> list[str]:
    own = path.relative_to(REPO).parts[0]
    problems = []
    for imported in sorted(_imported_packages(path) - {own}):
        if imported == "tests":
            problems.append(f"{path.relative_to(REPO)} imports tests (product and tools "
                            "must not depend on the test suite)")
        elif LAYER[imported] > LAYER[own]:
            problems.append(f"{path.relative_to(REPO)} ({own}) imports {imported}, a layer above")
        elif LAYER[own] == 0 and imported not in FOUNDATION_ALLOWED[own]:
            problems.append(f"{path.relative_to(REPO)} ({own}) imports {imported}; the "
                            f"foundation package {own} may use only "
                            f"{sorted(FOUNDATION_ALLOWED[own]) or 'nothing else'}")
    return problems


def test_every_import_points_down_the_layers() -> None:
    problems = [problem for path in _modules() for problem in _violations(path)]
    assert problems == []


def test_the_checker_finds_an_upward_import(tmp_path: Path) -> None:
    # The check itself must be able to fail: an actor module importing supervision.
    fake = REPO / "actors" / "_layer_probe_tmp.py"
    fake.write_text("from supervision import tree\n", encoding="utf-8")
    try:
        assert _violations(fake) == [
            "actors/_layer_probe_tmp.py (actors) imports supervision, a layer above"]
    finally:
        fake.unlink()


@pytest.mark.parametrize("name", ["actors", "supervision", "btc"])
def test_no_product_package_imports_the_mock_or_the_tests(name: str) -> None:
    for path in (REPO / name).rglob("*.py"):
        assert not _imported_packages(path) & {"mock_governance", "tests", "bench", "chaos"}, path


def test_the_client_library_needs_neither_supervision_nor_other_tools() -> None:
    # A client talks to a node through the message catalogue and the front desk
    # (actors/front_desk.py); it must not need the code that runs the node.
    for path in (REPO / "client").rglob("*.py"):
        assert not _imported_packages(path) & {
            "supervision", "mock_governance", "bench", "chaos", "harness", "tests"}, path


def test_the_tree_builds_exactly_the_names_the_config_knows() -> None:
    assert tree.actor_names() == ACTOR_NAMES
    assert tuple(spec.name for spec in tree.NODE_CHILDREN) == SUPERVISORS
    assert tuple(child.name for spec in tree.NODE_CHILDREN for child in spec.children) == WORKERS
