"""Answers to a client's `GetPegoutStatus` and `ListPegouts`.

Open peg-outs are in memory (`Book`); any other id is read back from storage
(memory keeps no ids of finished peg-outs) with `fetch` (the owner's
`Fetches.fetch` bound to the current StorageActor), and a listing that may
include finished ones merges storage with memory, memory winning: it is as
new as storage, or newer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from actors.bridge.book import Book
from actors.bridge.ledger import status_of
from actors.messages import (
    MAX_PEGOUTS_LISTED,
    UNKNOWN_PEGOUT,
    PegoutList,
    PegoutState,
    PegoutStatus,
)
from actors.storage.records import PegoutRecord

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


def pegout_list(book: Book, wanted: object, limit: object,
                reply: Callable[[PegoutList], None], fetch: Fetch, log: logging.Logger) -> None:
    """The newest `limit` peg-outs (in state `wanted`, if not None), oldest first."""
    if wanted is not None and wanted not in {s.value for s in PegoutState}:
        reply(PegoutList((), f"no peg-out state is called {str(wanted)[:40]!r}"))
        return
    if not isinstance(limit, int) or isinstance(limit, bool) or \
            not 1 <= limit <= MAX_PEGOUTS_LISTED:
        reply(PegoutList((), f"limit must be a whole number from 1 to {MAX_PEGOUTS_LISTED}, "
                             f"got {str(limit)[:40]}"))
        return
    if wanted is not None and wanted in {s.value for s in PegoutState if s.is_open}:
        reply(PegoutList(_newest(book.pegouts.values(), wanted, limit)))
        return

    def answer(records: tuple[Any, ...] | None, error: str | None) -> None:
        # Storage holds every open peg-out too; memory's copy is as new as it, or newer.
        merged = {r.request_id: r for r in records or ()}
        merged.update(book.pegouts)
        if error:
            log.error("listing peg-outs: could not read storage: %s", error)
        reply(PegoutList(_newest(merged.values(), wanted, limit),
                         error and f"could not read storage (open peg-outs listed): {error}"))
    fetch(answer, state=wanted, limit=limit)


def _newest(records: Iterable[PegoutRecord], wanted: object,
            limit: int) -> tuple[PegoutStatus, ...]:
    chosen = sorted((r for r in records if wanted in (None, r.state)),
                    key=lambda r: (r.created_at, r.request_id))[-limit:]
    return tuple(status_of(r) for r in chosen)
