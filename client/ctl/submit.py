"""The file `scripts/ctl pegouts submit FILE` reads: one peg-out request as JSON.

    {
      "request_id": "po-2024-001",
      "tx_hex": "0200000001...",
      "input_indices": [0, 1],
      "amounts": [50000, 75000],
      "replaces": "po-2024-000"
    }

`request_id`, `tx_hex`, `input_indices` (the inputs that spend federation coins) and
`amounts` (each such coin's value in satoshi, in the same order) are required;
`replaces` names a peg-out this one replaces (to bump its fee), and may be left out
or null. Only the shape is checked here, and that nothing else is in the file; what
the values mean (the transaction, the policy, the id) is the node's to judge, and
its refusal says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from actors.messages import InitiatePegout

MAX_FILE_BYTES = 1024 * 1024  # a peg-out transaction is at most 100 kB, 200 kB as hex
REQUIRED = ("request_id", "tx_hex", "input_indices", "amounts")
OPTIONAL = ("replaces",)


class SubmitFileError(ValueError):
    """The file cannot describe a peg-out: the message names the file and the problem."""


def read_request(path: str) -> InitiatePegout:
    """The `InitiatePegout` the file at `path` (or stdin for `-`) describes."""
    name = "stdin" if path == "-" else path
    try:
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1) if path == "-" else \
            _read_bounded(Path(path))
    except OSError as exc:
        raise SubmitFileError(f"{name}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SubmitFileError(f"{name}: over {MAX_FILE_BYTES} bytes; a peg-out request is "
                              "far smaller")
    try:
        document = json.loads(data)
    except RecursionError:
        raise SubmitFileError(f"{name}: nested too deeply for the JSON reader; a peg-out "
                              "request is one flat object") from None
    except ValueError as exc:  # bad JSON or UTF-8, or a number over Python's 4300 digits
        raise SubmitFileError(f"{name}: not JSON: {exc}") from None
    return request_from(document, name)


def _read_bounded(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(MAX_FILE_BYTES + 1)


def request_from(document: Any, name: str = "the request") -> InitiatePegout:
    if not isinstance(document, dict):
        raise SubmitFileError(f"{name}: must hold a JSON object, got {_kind(document)}")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise SubmitFileError(f"{name}: missing {', '.join(missing)}")
    unknown = sorted(set(document) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise SubmitFileError(f"{name}: unknown keys {', '.join(unknown)}; the keys are "
                              f"{', '.join(REQUIRED + OPTIONAL)}")
    for key in ("request_id", "tx_hex"):
        if not isinstance(document[key], str):
            raise SubmitFileError(f"{name}: {key} must be a string, got "
                                  f"{_kind(document[key])}")
    for key in ("input_indices", "amounts"):
        value = document[key]
        if not isinstance(value, list) or not all(_whole(item) for item in value):
            raise SubmitFileError(f"{name}: {key} must be a list of whole numbers")
    replaces = document.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise SubmitFileError(f"{name}: replaces must be a string or null, got "
                              f"{_kind(replaces)}")
    return InitiatePegout(document["request_id"], document["tx_hex"],
                          tuple(document["input_indices"]), tuple(document["amounts"]),
                          replaces=replaces)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false",
            type(None): "null"}.get(type(value), "a number")
