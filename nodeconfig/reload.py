"""What a reloaded config may change in a running node, and what needs a restart (pure).

`plan_reload(running, reloaded)` compares two loaded configs key by key (dotted paths,
as in `configs/README.md`). A reload is all or nothing: if any changed key is outside
`RELOADABLE`, nothing of it is applied and the refusal names those keys, because half a
reload would leave the node running a config that no file describes.

What applies at once, and where: the log level (every process), the governance
endpoints (the stream reconnects to the most preferred one), the peg-out limits (the
bridge decides every new peg-out by them), the Bitcoin Core and EVM RPC URLs (the
next call goes to the new one). Credential files are re-read on every reload, changed
or not; their *paths* are keys like any other, and need a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nodeconfig.model import NodeConfig

# A key, or a section ending in "." whose every key applies at once.
RELOADABLE: tuple[str, ...] = (
    "logging.level",
    "governance.endpoints",
    "bridge.max_pegout_sat",
    "bridge.policy.",
    "bridge.outflow.max_sat",
    "bridge.broadcaster.rpc_url",
    "chain.height_source.rpc_url",
)
_NOT_KEYS = frozenset({"source"})  # filled by the loader: where the file is, not what it says


@dataclass(frozen=True)
class ReloadPlan:
    changed: tuple[str, ...]  # every key whose value differs, sorted
    restart_needed: tuple[str, ...]  # those of them that only a restart applies

    @property
    def refusal(self) -> str | None:
        """Why nothing of the reload may be applied; None if all of it may."""
        if not self.restart_needed:
            return None
        return ("not applied: these keys changed and need a restart: "
                + ", ".join(self.restart_needed))


def reloadable(key: str) -> bool:
    return any(key == entry or (entry.endswith(".") and key.startswith(entry))
               for entry in RELOADABLE)


def plan_reload(running: NodeConfig, reloaded: NodeConfig) -> ReloadPlan:
    before = dict(flatten(running))
    after = dict(flatten(reloaded))
    changed = tuple(sorted(key for key in before.keys() | after.keys()
                           if before.get(key, _ABSENT) != after.get(key, _ABSENT)))
    return ReloadPlan(changed, tuple(key for key in changed if not reloadable(key)))


_ABSENT = object()


def flatten(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every key of a config with its value: sections and mappings are walked, lists
    (endpoints, federation members, versions) are one value each."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        items: Iterator[tuple[str, Any]] = (
            (field.name, getattr(config, field.name)) for field in dataclasses.fields(config)
            if not (prefix == "" and field.name in _NOT_KEYS))
    elif isinstance(config, dict):
        items = iter(sorted(config.items()))
    else:
        yield prefix.rstrip("."), config
        return
    for name, value in items:
        yield from flatten(value, f"{prefix}{name}.")
