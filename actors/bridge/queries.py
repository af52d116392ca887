"""Answers to a client's `GetPegoutStatus` and `ListPegouts`.

Open peg-outs are in memory (`Book`); any other id is read back from storage
(memory keeps no ids of finished peg-outs) with `fetch` (the owner's
`Fetches.fetch` bound to the current StorageActor), and a listing that may
include finished ones merges storage with memory, memory winning: it is as
new as storage, or newer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from actors.bridge.book import Book
from actors.bridge.ledger import status_of
from actors.messages import UNKNOWN_PEGOUT, PegoutList, PegoutState, PegoutStatus

Fetch = Callable[..., None]  # fetch(answer, request_id=... | state=...)
Answer = Callable[[tuple[Any, ...] | None, str | None], None]


def pegout_status(book: Book, request_id: str, reply: Callable[[PegoutStatus], None],
                  fetch: Fetch) -> None:
    record = book.lookup(request_id)
    if record is not None:
        reply(status_of(record))
        return

    def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
        if records:
            reply(status_of(records[0]))
        else:
            reply(PegoutStatus(request_id, UNKNOWN_PEGOUT, error=error and
                               f"could not read peg-out {request_id!r}: {error}"))
    fetch(answer, request_id=request_id)


def pegout_list(book: Book, wanted: str | None, reply: Callable[[PegoutList], None],
                fetch: Fetch, log: logging.Logger) -> None:
    if wanted is not None and wanted in {s.value for s in PegoutState if s.is_open}:
        reply(PegoutList(tuple(status_of(r) for r in book.pegouts.values()
                               if r.state == wanted)))
        return

    def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
        merged = {r.request_id: r for r in records or ()}
        merged.update(book.pegouts)
        if error:
            log.error("listing peg-outs: could not read storage: %s", error)
        reply(PegoutList(tuple(status_of(r) for r in merged.values()
                               if wanted in (None, r.state))))
    fetch(answer, state=wanted)
