"""Peg-out requests that arrive before the bridge knows its first federation (pure).

On a node's very first start the bridge loads no federation from storage: the
ChainActor stores the genesis federation (from `chain.federation`, or the mock's
seed) and only then announces it. A client that submits as soon as the node
answers could land in that gap and be refused `no_federation` for a federation
that is moments away. So new peg-outs are held until the first `FederationChanged`,
within bounds: at most `limit` requests, for at most `wait_s` from the first one
held (the actor's wakeup). Past either, a request is decided as before (refused
`no_federation`), and so are the held ones when the wait runs out: nothing waits
unbounded behind a chain that cannot announce.
"""

from __future__ import annotations

from typing import Any

WAIT_S = 10.0  # a chain that has not announced by then has a problem a person must see
LIMIT = 10_000  # held requests; a client sending more before the start is refused at once


class FirstFederation:
    def __init__(self, limit: int = LIMIT, wait_s: float = WAIT_S) -> None:
        self.wait_s = wait_s  # the actor arms a wakeup this long after the first one held
        self._limit = limit
        self._held: list[tuple[Any, Any]] = []  # (message, sender), in arrival order
        self._over = False  # the wait ran out: decide at once until a federation comes

    def hold(self, message: Any, sender: Any) -> bool:
        """Keep `message` until the federation or the wait's end; False: decide it now."""
        if self._over or len(self._held) >= self._limit:
            return False
        self._held.append((message, sender))
        return True

    def release(self) -> list[tuple[Any, Any]]:
        """The federation is known: everything held, in arrival order, to decide now."""
        held, self._held = self._held, []
        return held

    def give_up(self) -> list[tuple[Any, Any]]:
        """The wait ran out: everything held, to decide now; from now on nothing is held."""
        self._over = True
        return self.release()

    def __len__(self) -> int:
        return len(self._held)
