"""New records whose first write (insert if absent) storage has not answered yet.

A request for the same id meanwhile must wait: until storage says whether the id was
free, two requests in one group commit could get contradictory answers. Keys are
(kind, id): peg-outs and peg-ins have ids of their own.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.storage.records import PeginRecord, PegoutRecord

Key = tuple[str, str]


def first_key(record: PegoutRecord | PeginRecord | None) -> Key | None:
    if isinstance(record, PegoutRecord):
        return ("pegout", record.request_id)
    if isinstance(record, PeginRecord):
        return ("pegin", record.request_id)
    return None


class FirstWrites:
    def __init__(self) -> None:
        self._waiting: dict[Key, list[Callable[[], None]]] = {}

    def started(self, key: Key) -> None:
        self._waiting.setdefault(key, [])

    def settled(self, key: Key | None) -> None:
        """Storage has answered the first write: handle what waited for it, in order."""
        if key is not None:
            for handle in self._waiting.pop(key, ()):
                handle()

    def wait(self, key: Key, handle: Callable[[], None]) -> bool:
        """Whether the id's first write is unanswered; if so, `handle` runs once it is."""
        waiting = self._waiting.get(key)
        if waiting is None:
            return False
        waiting.append(handle)
        return True
