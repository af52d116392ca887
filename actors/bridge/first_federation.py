"""Peg-out requests that arrive before the bridge knows its first federation (pure).

On a node's very first start the bridge loads no federation from storage: the
ChainActor stores the genesis federation (from `chain.federation`, or the mock's
seed) and only then announces it. A client that submits as soon as the node
answers could land in that gap and be refused `no_federation` for a federation
that is moments away. So new peg-outs are held until the first `FederationChanged`,
within bounds: at most `limit` requests, for at most `wait_s` from the first one
held (the actor's wakeup), and at most `max_chars` characters of what they carry
(nothing is checked before the federation is known, and a local client's request
may be of any size). Past any bound, a request is decided as before (refused
`no_federation`), and so are the held ones when the wait runs out: nothing waits
unbounded behind a chain that cannot announce.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

WAIT_S = 10.0  # a chain that has not announced by then has a problem a person must see
LIMIT = 10_000  # held requests; a client sending more before the start is refused at once
# Characters held in all (ids, transactions, items of the lists): 10,000 peg-outs of a
# few inputs each, or a few hundred of the largest transaction `btc.pegout` takes.
MAX_CHARS = 50_000_000
_SIZED_FIELDS = ("request_id", "tx_hex", "input_indices", "amounts", "replaces")


class FirstFederation:
    def __init__(self, limit: int = LIMIT, wait_s: float = WAIT_S,
                 max_chars: int = MAX_CHARS) -> None:
        self.wait_s = wait_s  # the actor arms a wakeup this long after the first one held
        self._limit = limit
        self._max_chars = max_chars
        self._chars = 0  # held, by `chars_of`
        self._held: list[tuple[Any, Any]] = []  # (message, sender), in arrival order
        self._over = False  # the wait ran out: decide at once until a federation comes

    def hold(self, message: Any, sender: Any) -> bool:
        """Keep `message` until the federation or the wait's end; False: decide it now."""
        chars = chars_of(message)
        if (self._over or len(self._held) >= self._limit
                or self._chars + chars > self._max_chars):
            return False
        self._held.append((message, sender))
        self._chars += chars
        return True

    def release(self) -> list[tuple[Any, Any]]:
        """The federation is known: everything held, in arrival order, to decide now."""
        held, self._held, self._chars = self._held, [], 0
        return held

    def give_up(self) -> list[tuple[Any, Any]]:
        """The wait ran out: everything held, to decide now; from now on nothing is held."""
        self._over = True
        return self.release()

    def __len__(self) -> int:
        return len(self._held)


def chars_of(message: Any) -> int:
    """What holding a request keeps, roughly: the length of each of its text and list
    fields (whatever their types: nothing in them is checked yet)."""
    total = 0
    for name in _SIZED_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, Sized):
            total += len(value)
    return total
