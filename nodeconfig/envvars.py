"""``${VAR}`` expansion in config strings.

Syntax: ``${NAME}`` (the variable must be set), ``${NAME:-default}`` (the
default when the variable is unset or empty, as in the shell), ``$$`` for a
literal ``$``. A ``$`` followed by anything else stays as it is, so values
such as passwords need no escaping unless they contain ``$$`` or ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

_TOKEN = re.compile(r"\$\$|\$\{(?P<body>[^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SINGLE_REFERENCE = re.compile(r"\$\{[^}]*\}")


class ExpansionError(ValueError):
    """A reference that cannot be expanded; the loader adds file and key."""


@dataclass(frozen=True)
class Expanded:
    """A scalar that was one whole ``${...}`` reference.

    ``value`` is the expanded text read as a YAML scalar (so ``port: ${PORT}``
    gives an int); ``text`` is the text itself, which string settings keep
    (so ``id: ${NODE_ID}`` with ``NODE_ID=007`` stays ``"007"``).
    """

    value: object
    text: str


def expand(text: str, env: Mapping[str, str]) -> str:
    """Return ``text`` with every reference replaced by its value."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        body = match.group("body")
        if body is None:
            raise ExpansionError("unterminated '${' (write '${NAME}', or '$$' for a literal '$')")
        return _lookup(body, env)

    return _TOKEN.sub(replace, text)


def expand_scalar(text: str, env: Mapping[str, str]) -> str | Expanded:
    """Expand a YAML string; a whole-scalar reference also gets a typed value."""
    expanded = expand(text, env)
    if _SINGLE_REFERENCE.fullmatch(text) is None:
        return expanded
    return Expanded(_read_scalar(expanded), expanded)


def _lookup(body: str, env: Mapping[str, str]) -> str:
    name, has_default, default = body.partition(":-")
    if _NAME.fullmatch(name) is None:
        raise ExpansionError(
            f"invalid reference '${{{body}}}': expected '${{NAME}}' or '${{NAME:-default}}'"
        )
    value = env.get(name)
    if has_default:
        return value if value else default
    if value is None:
        raise ExpansionError(
            f"environment variable {name} is not set and '${{{name}}}' has no default"
        )
    return value


def _read_scalar(text: str) -> object:
    # Only scalars: a variable holding "a: b" must not turn a setting into a mapping.
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, dict | list) else value
