"""Hand a signed peg-out transaction to the outside world, at most once per txid.

Two broadcasters share one small interface (``broadcast``, ``broadcast_many``):

- ``SpoolBroadcaster`` (`spool.py`), the embedded default, appends
  ``<txid> <raw tx hex>\\n`` to an append-only file and fsyncs before it
  answers. The spool is what tools read to judge "broadcast exactly once"
  (docs/formats.md).
- ``BitcoinRpcBroadcaster`` (`rpc.py`) calls Bitcoin Core's ``sendrawtransaction``.

Both return True when the transaction is new and False when it was already
known; both outcomes are success, since re-broadcasting after a SIGKILL is
expected. Calls run inside an actor, so they never sleep and every network
call carries a short timeout; failures raise a ``BroadcastError`` whose
``retryable`` tells the caller whether to try again later (`broadcast_errors.py`).

Only the Bitcoin Core broadcaster can also tell what became of a transaction
(it is `Followable`: ``find``, ``follow``, ``txindex``, ``block_count``, answering
`Seen`); the spool is a hand-off to someone else and is never followed. ``follows``
says which a broadcaster is, and `followable` gives it the type that can.

This module is the interface the bridge uses: the protocols, the errors and
the factory that picks a broadcaster from the config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

# The errors are part of this interface: callers catch them through this module.
from actors.bridge.broadcast_errors import (
    BroadcasterMisconfigured,
    BroadcastError,
    BroadcastRejected,
    BroadcastUnavailable,
    SpoolCorrupt,
)
from actors.bridge.rpc import BitcoinRpcBroadcaster, Seen
from actors.bridge.spool import SpoolBroadcaster

if TYPE_CHECKING:
    from nodeconfig import BroadcasterConfig

__all__ = [
    "BitcoinRpcBroadcaster",
    "BroadcastError",
    "BroadcastRejected",
    "BroadcastUnavailable",
    "Broadcaster",
    "BroadcasterMisconfigured",
    "Followable",
    "Seen",
    "SpoolBroadcaster",
    "SpoolCorrupt",
    "followable",
    "make_broadcaster",
]


class Broadcaster(Protocol):
    @property
    def follows(self) -> bool: ...

    def broadcast(self, tx_hex: str, txid: str) -> bool: ...

    def broadcast_many(self, items: Sequence[tuple[str, str]]) -> int: ...


@runtime_checkable
class Followable(Broadcaster, Protocol):
    """A broadcaster that can also look up what it broadcast (`rpc.BitcoinRpcBroadcaster`)."""

    def find(self, txid: str, tx_hex: str) -> Seen: ...

    def follow(self, items: Sequence[tuple[str, str]]) -> dict[str, Seen]: ...

    def txindex(self) -> bool | None: ...

    def block_count(self) -> int: ...


def followable(broadcaster: Broadcaster) -> Followable | None:
    """`broadcaster` as a `Followable`, or None for one that is never followed (the spool)."""
    if broadcaster.follows and isinstance(broadcaster, Followable):
        return broadcaster
    return None


def _credential(env: Mapping[str, str], name: str | None, key: str) -> str | None:
    if name is None:
        return None
    try:
        return env[name]
    except KeyError:
        # Name the variable and the key that points at it, never a value.
        raise BroadcasterMisconfigured(
            f"environment variable {name} (bridge.broadcaster.{key}) is not set"
        ) from None


def make_broadcaster(
    config: BroadcasterConfig, env: Mapping[str, str] = os.environ
) -> SpoolBroadcaster | BitcoinRpcBroadcaster:
    """The broadcaster ``bridge.broadcaster`` asks for; credentials come from ``env``.
    A spool is opened and locked, not read: its owner calls ``index`` with where to read
    from, and a spool of millions of lines is never read whole at a start."""
    if config.kind == "spool":
        return SpoolBroadcaster(config.spool_path, read_from=None)
    if config.kind == "bitcoin_rpc":
        if not config.rpc_url:
            raise BroadcasterMisconfigured(
                "bridge.broadcaster.rpc_url is required when kind is bitcoin_rpc"
            )
        user = _credential(env, config.rpc_user_env, "rpc_user_env")
        password = _credential(env, config.rpc_password_env, "rpc_password_env")
        return BitcoinRpcBroadcaster(config.rpc_url, user, password)
    raise BroadcasterMisconfigured(f"unknown bridge.broadcaster.kind {config.kind!r}")
