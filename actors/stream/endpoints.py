"""Which governance endpoint to try next: priority order, failing over on error.

Endpoints are tried lowest `priority` value first (the SRV-record convention:
10 before 20), ties in the order the config lists them. A failed attempt
moves to the next endpoint at once; only when every endpoint has failed in
a row does the caller back off before starting from the top again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    url: str
    priority: int


class EndpointRotation:
    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        if not endpoints:
            raise ValueError("at least one governance endpoint is needed")
        order = sorted(range(len(endpoints)), key=lambda i: (endpoints[i].priority, i))
        self._endpoints = tuple(endpoints[i] for i in order)
        self._index = 0

    @property
    def current(self) -> Endpoint:
        return self._endpoints[self._index]

    def fail_over(self) -> bool:
        """Move to the next endpoint; True when that starts a new round from the top."""
        self._index = (self._index + 1) % len(self._endpoints)
        return self._index == 0

    def restart_round(self) -> None:
        """Go back to the most preferred endpoint."""
        self._index = 0

    def __len__(self) -> int:
        return len(self._endpoints)
