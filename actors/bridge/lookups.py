"""The BridgeActor's reads of peg-outs: from memory, or back from storage when memory has
none (a finished peg-out: memory keeps no ids of those), for a decision, a status or a
listing.

A mixin of `BridgeActor` (actor.py); it uses the actor's state and helpers, declared
below for the type checker only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.bridge import queries, workflow
from actors.bridge.book import Book
from actors.bridge.effects import Effects
from actors.bridge.firstwrites import FirstWrites
from actors.bridge.ledger import request_id_problem
from actors.messages import UNKNOWN_PEGOUT, GetPegoutStatus, ListPegouts, PegoutStatus
from actors.storage.records import PegoutRecord

if TYPE_CHECKING:
    from actors.owner import OwnerActor

    _Actor = OwnerActor
else:
    _Actor = object


class Lookups(_Actor):
    # The BridgeActor's, for the type checker.
    book: Book
    first_writes: FirstWrites

    if TYPE_CHECKING:
        def _carry_out(self, effects: Effects) -> None: ...

        def _decide(self, step: workflow.Step) -> None: ...

    def _with_record(self, request_id: object, client: Any,
                     decide: Callable[[PegoutRecord | None], workflow.Step], *,
                     read_back: bool) -> None:
        """Decide on the peg-out under `request_id`, from memory, or, with `read_back`, read
        back from storage when memory has none (a finished one, or none at all). While the
        id's first write is unanswered, the decision waits for it."""
        if not isinstance(request_id, str):  # not even a key: refused before any lookup
            problem = request_id_problem(request_id) or "request_id must be text"
            self._carry_out(workflow.refuse(None, client, repr(request_id)[:80], "request_id",
                                            problem).effects)
            return
        if self.first_writes.wait(("pegout", request_id), lambda: self._with_record(
                request_id, client, decide, read_back=read_back)):
            return
        record = self.book.lookup(request_id)
        if record is not None or not read_back:
            self._decide(decide(record))
            return

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if records is None:
                self._carry_out(workflow.unreadable(request_id, client, error or "unknown"))
            else:
                self._decide(decide(records[0] if records else None))
        self._fetch(answer, request_id=request_id)

    def _read(self, request_id: str, then: Callable[[PegoutRecord | None], None],
              client: Any) -> None:
        """The peg-out under `request_id`, from memory, or read back from storage."""
        record = self.book.lookup(request_id)
        if record is not None:
            then(record)
            return

        def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
            if records is not None:
                then(records[0] if records else None)
            elif client is not None:
                self._carry_out(workflow.unreadable(request_id, client, error or "unknown"))
            else:
                self.log.error("could not read peg-out %s back: %s", request_id, error)
        self._fetch(answer, request_id=request_id)

    def receiveMsg_GetPegoutStatus(self, message: GetPegoutStatus, sender: Any) -> None:
        request_id: object = message.request_id  # whatever a client put there
        if not isinstance(request_id, str):
            self.send(sender, PegoutStatus(message.request_id, UNKNOWN_PEGOUT,
                                           error="request_id must be text"))
            return
        queries.pegout_status(self.book, message.request_id, lambda m: self.send(sender, m),
                              self._fetch)

    def receiveMsg_ListPegouts(self, message: ListPegouts, sender: Any) -> None:
        queries.pegout_list(self.book, getattr(message, "state", None),
                            getattr(message, "limit", None), lambda m: self.send(sender, m),
                            self._fetch, self.log)

    def _fetch(self, answer: queries.Answer, **query: Any) -> None:
        self.fetches.fetch(self._storage, answer, **query)
