"""What a new record's first write came to, decided by the workflow of its kind: storage
refused it (`not_stored`), or its id was taken already (`already_stored`)."""

from __future__ import annotations

from typing import Any

from actors.bridge import pegins, workflow
from actors.bridge.book import Book
from actors.bridge.effects import Effects
from actors.bridge.ledger import split_governance_id
from actors.bridge.workflow import Situation
from actors.storage.records import Held, PeginRecord, PegoutRecord


def not_stored(record: PegoutRecord | PeginRecord, client: Any, reason: str) -> Effects:
    if isinstance(record, PegoutRecord):
        return workflow.not_stored(record, client, reason)
    return pegins.not_stored(record, client, reason)


def already_stored(written: PegoutRecord | PeginRecord | None, stored: object, request: Any,
                   client: Any, situation: Situation) -> Effects:
    """Nothing was written: the id holds `stored` (or, `Held`, one of the new peg-out's
    coins is another's), and `then` is not carried out."""
    if isinstance(written, PegoutRecord) and isinstance(stored, Held):
        return workflow.coin_held(stored, written, client)
    if isinstance(written, PegoutRecord) and isinstance(stored, PegoutRecord):
        return workflow.already_stored(stored, request, client, situation,
                                       written=written).effects
    if isinstance(written, PeginRecord) and isinstance(stored, PeginRecord):
        return pegins.already_stored(stored, request, client, written=written)
    return ()


def unanswered(book: Book, request_id: str, request_kind: str, kind: str, reason: str,
               situation: Situation, delay_s: float = 0.0, code: str = "") -> Effects:
    """A request got no answer (timed out, refused by the stream, an error). A peg-in
    notice and a peg-out attempt may share an id (`x/1`): the stream says which kind of
    request it was; a sender that does not is taken by the id."""
    if request_kind == "pegin" or (not request_kind and request_id in book.pegins):
        return pegins.unanswered(book.pegins.get(request_id), reason, delay_s)
    parsed = split_governance_id(request_id)
    if parsed is None:
        return ()
    return workflow.unanswered(book.lookup(parsed[0]), parsed[1], kind, reason, situation,
                               delay_s, code).effects
