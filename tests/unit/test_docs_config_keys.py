"""configs/README.md's "Every key" tables hold every key of `nodeconfig/model.py`.

The keys come from walking the config's dataclasses: a section is walked into; a
setting that is a section or null (`chain.federation`), a list of sections
(`governance.endpoints`) or a map of sections (`supervision.supervisors`) is a key
of its own, and its element's keys are rows too (`governance.endpoints[].url`,
`supervision.supervisors.<name>.intensity`). A row for a key the model no longer
has fails as a missing one does. Where a row gives one literal default, or lists
the allowed strings, they must be the model's.
"""

from __future__ import annotations

import dataclasses
import re
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import yaml

from nodeconfig.model import NodeConfig

REPO = Path(__file__).resolve().parents[2]
CONFIG_README = REPO.joinpath("configs/README.md")
HEADER = "| key | type | default | bound |"
_CELL_BORDER = re.compile(r"(?<!\\)\|")  # a pipe, not an escaped one inside a cell
_KEY_CELL = re.compile(r"^`([^`]+)`$")
_ONE_LITERAL = re.compile(r"^`([^`]*)`$")


@dataclasses.dataclass(frozen=True)
class Key:
    path: str
    type: Any
    default: Any = dataclasses.MISSING


def _without_none(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, types.UnionType):
        rest = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0], True
    return hint, False


def _is_section(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def model_keys(cls: type = NodeConfig, prefix: str = "") -> list[Key]:
    found: list[Key] = []
    hints = get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        if spec.metadata.get("internal"):
            continue
        path, hint = prefix + spec.name, hints[spec.name]
        default = spec.default
        inner, nullable = _without_none(hint)
        if _is_section(inner) and not nullable:
            found.extend(model_keys(inner, path + "."))
            continue
        found.append(Key(path, hint, default))
        args = get_args(inner)
        if _is_section(inner):  # a section or null
            found.extend(model_keys(inner, path + "."))
        elif get_origin(inner) is tuple and args and _is_section(args[0]):
            found.extend(model_keys(args[0], path + "[]."))
        elif get_origin(inner) is dict and len(args) == 2 and _is_section(args[1]):
            found.extend(model_keys(args[1], path + ".<name>."))
    return found


@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    line: int


def table_rows(text: str) -> list[Row]:
    """The rows of every table headed `| key | type | default | bound |`."""
    rows: list[Row] = []
    in_table = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == HEADER:
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in _CELL_BORDER.split(line)[1:-1]]
        key = _KEY_CELL.match(cells[0]) if in_table and len(cells) == 4 else None
        if key is not None:
            rows.append(Row(key.group(1), cells[1], cells[2], number))
    return rows


def _documented() -> dict[str, Row]:
    rows = table_rows(CONFIG_README.read_text(encoding="utf-8"))
    seen: dict[str, Row] = {}
    for row in rows:
        assert row.key not in seen, (f"configs/README.md:{row.line}: {row.key} has a second "
                                     f"row (line {seen[row.key].line})")
        seen[row.key] = row
    return seen


def test_every_key_of_the_model_has_a_row() -> None:
    documented = _documented()
    missing = [key.path for key in model_keys() if key.path not in documented]
    assert not missing, "configs/README.md's tables of every key lack:\n" + "\n".join(missing)


def test_every_row_is_a_key_of_the_model() -> None:
    known = {key.path for key in model_keys()}
    stale = [f"line {row.line}: {row.key}" for row in _documented().values()
             if row.key not in known]
    assert not stale, "configs/README.md has rows for keys the model lacks:\n" + \
        "\n".join(stale)


def test_a_row_s_literal_default_is_the_model_s() -> None:
    documented = _documented()
    wrong = []
    for key in model_keys():
        row = documented.get(key.path)
        literal = _ONE_LITERAL.match(row.default) if row else None
        if row is None or literal is None or key.default is dataclasses.MISSING:
            continue
        if not isinstance(key.default, str | int | float | bool | type(None)):
            continue
        written = yaml.safe_load(literal.group(1))
        if written != key.default or isinstance(written, bool) != isinstance(key.default, bool):
            wrong.append(f"line {row.line}: {key.path} default {row.default}, the model's "
                         f"is {key.default!r}")
    assert not wrong, "\n".join(wrong)


def test_a_row_s_allowed_strings_are_the_model_s() -> None:
    documented = _documented()
    wrong = []
    for key in model_keys():
        hint, _ = _without_none(key.type)
        row = documented.get(key.path)
        if row is None or get_origin(hint) is not Literal:
            continue
        listed = tuple(re.findall(r"`([^`]+)`", row.type))
        if listed != get_args(hint):
            wrong.append(f"line {row.line}: {key.path} lists {listed}, the model allows "
                         f"{get_args(hint)}")
    assert not wrong, "\n".join(wrong)


# -- the walk's own checks -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Leaf:
    a: int = 1


@dataclasses.dataclass(frozen=True)
class _Tree:
    section: _Leaf = dataclasses.field(default_factory=_Leaf)
    maybe: _Leaf | None = None
    many: tuple[_Leaf, ...] = ()
    named: dict[str, _Leaf] = dataclasses.field(default_factory=dict)
    kind: Literal["x", "y"] = "x"
    hidden: str = dataclasses.field(default="", metadata={"internal": True})


def test_the_walk_names_sections_lists_and_maps_as_the_tables_do() -> None:
    assert [key.path for key in model_keys(_Tree)] == [
        "section.a", "maybe", "maybe.a", "many", "many[].a", "named", "named.<name>.a",
        "kind"]


@pytest.mark.parametrize("line", [
    "| `a.b` | int | `1` | at least 1 |",
    "| `a.b` | `x` \\| `y` | `x` | - |",
])
def test_rows_are_read_under_the_header_only(line: str) -> None:
    assert [row.key for row in table_rows(f"{HEADER}\n|---|---|---|---|\n{line}\n")] == ["a.b"]
    assert table_rows(f"| key | default | what |\n|---|---|---|\n{line}\n") == []
