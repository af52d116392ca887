"""Loading a config file: read, parse YAML, build the dataclasses, cross-check."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from nodeconfig.build import Context, build_section
from nodeconfig.errors import ConfigError
from nodeconfig.model import NodeConfig
from nodeconfig.validate import validate

_MERGE_TAG = "tag:yaml.org,2002:merge"


def default_config_path() -> Path:
    """The embedded default, ``configs/local.yaml`` at the root of the repository."""
    return Path(__file__).resolve().parents[1] / "configs" / "local.yaml"


def load_config(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> NodeConfig:
    """Load and check a config file.

    ``env`` (default ``os.environ``) feeds ``${VAR}`` expansion; relative
    paths in the file are resolved against ``base_dir`` (default: the
    current directory). Raises ConfigError naming the file, key and problem.
    """
    source = os.path.abspath(os.fspath(path))
    raw = _read_yaml(source)
    return build_config(raw, source=source, env=env, base_dir=base_dir)


def build_config(
    raw: object,
    *,
    source: str,
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> NodeConfig:
    """Build a NodeConfig from an already parsed YAML tree (``source`` names it in errors)."""
    if raw is None:  # an empty file: every default
        raw = {}
    if not isinstance(raw, dict):
        problem = f"expected a mapping of sections at the top level, got {type(raw).__name__}"
        raise ConfigError(source, None, problem)
    context = Context(
        file=source,
        env=os.environ if env is None else env,
        base_dir=os.path.abspath(os.getcwd() if base_dir is None else os.fspath(base_dir)),
    )
    config = dataclasses.replace(build_section(NodeConfig, raw, "", context), source=source)
    validate(config)
    return config


def _read_yaml(source: str) -> object:
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, None, "is a directory, not a config file") from None
    except UnicodeDecodeError as err:
        problem = f"not UTF-8 text (bad byte at offset {err.start})"
        raise ConfigError(source, None, problem) from None
    except OSError as err:
        raise ConfigError(source, None, f"cannot read the file: {err.strerror}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: safe
    except yaml.MarkedYAMLError as err:
        raise ConfigError(source, None, _describe_yaml_error(err)) from None
    except yaml.YAMLError as err:
        raise ConfigError(source, None, f"invalid YAML: {err}") from None


def _describe_yaml_error(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    problem = err.problem or err.context or "unparseable"
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; SafeLoader reports it below
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
