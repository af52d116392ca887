"""What the bridge holds in memory, and when a record may leave it (pure).

Open peg-outs (awaiting signatures or signed), parked ones (`needs_review`), broadcast
ones while the bridge follows transactions (`bitcoin_rpc` with a txindex), and
unacknowledged peg-ins live here; any other peg-out leaves once its state is committed,
and so does
an acknowledged peg-in, id and all, so that what the bridge holds and loads
does not grow with its history. A finished record is read back from storage
when asked for, and a reused id is found by the new record's first write,
which is inserted only if its id is absent (`effects.Persist.request`). The
parsed unsigned transaction of a peg-out is kept only while it waits for
signatures: it serves to check them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from actors.bridge.situation import parse_record
from actors.messages import PegoutState
from actors.storage.records import (
    SPOOL_READ_FROM,
    FederationRecord,
    MetaValue,
    PeginRecord,
    PegoutRecord,
)
from btc.pegout import UnsignedPegout

AWAITING = PegoutState.AWAITING_SIGNATURES.value


def kept_states(following: bool) -> tuple[str, ...]:
    """The peg-out states the bridge holds in memory (and loads at start)."""
    kept = [state.value for state in PegoutState if state.is_open]
    kept.append(PegoutState.NEEDS_REVIEW.value)
    if following:
        kept.append(PegoutState.BROADCAST.value)
    return tuple(kept)


class Book:
    def __init__(self, following: bool = False) -> None:
        self.pegouts: dict[str, PegoutRecord] = {}  # open, parked, and followed ones
        self.pegins: dict[str, PeginRecord] = {}  # unacknowledged ones
        self.spool_read_from = 0  # where this start reads the spool from (`spoolmarks`)
        self.by_state: Counter[str] = Counter()  # the peg-outs in memory, for the gauges
        self.kept = frozenset(kept_states(following))
        self._parsed: dict[str, UnsignedPegout] = {}

    @property
    def awaiting(self) -> int:
        return self.by_state[AWAITING]

    def load(self, records: Iterable[object]) -> list[FederationRecord]:
        """Take what storage loaded at start; returns the federation records (the applied
        versions peg-outs may spend), in version order: the last is the one in force."""
        federations: list[FederationRecord] = []
        for record in records:
            if isinstance(record, PegoutRecord):
                self.put(record)
            elif isinstance(record, PeginRecord) and not record.acknowledged:
                self.pegins[record.request_id] = record
            elif isinstance(record, FederationRecord):
                federations.append(record)
            elif isinstance(record, MetaValue) and record.key == SPOOL_READ_FROM:
                self.spool_read_from = int(record.value)
        return federations

    def lookup(self, request_id: str) -> PegoutRecord | None:
        """The open record under this id; None: a finished peg-out's, or no peg-out's."""
        return self.pegouts.get(request_id)

    def put(self, record: PegoutRecord | PeginRecord) -> None:
        """The newest version of a record: memory is as new as storage, or newer."""
        if isinstance(record, PeginRecord):
            self.pegins[record.request_id] = record
            return
        previous = self.pegouts.get(record.request_id)
        if previous is not None:
            self.by_state[previous.state] -= 1
        self.by_state[record.state] += 1
        self.pegouts[record.request_id] = record
        if record.state != AWAITING:
            # Past its signatures, the parsed transaction would only take room.
            self._parsed.pop(record.request_id, None)

    def committed(self, record: PegoutRecord | PeginRecord) -> None:
        """`record` is durable. A finished peg-out or an acknowledged peg-in leaves memory,
        unless it changed since."""
        if isinstance(record, PeginRecord):
            if record.acknowledged and self.pegins.get(record.request_id) is record:
                del self.pegins[record.request_id]
            return
        if record.state in self.kept:
            return
        if self.pegouts.get(record.request_id) is record:
            del self.pegouts[record.request_id]
            self.by_state[record.state] -= 1

    def drop(self, record: PegoutRecord | PeginRecord) -> None:
        """A new record whose first write failed: it never existed."""
        if isinstance(record, PeginRecord):
            if self.pegins.get(record.request_id) is record:
                del self.pegins[record.request_id]
        elif self.pegouts.get(record.request_id) is record:
            del self.pegouts[record.request_id]
            self._parsed.pop(record.request_id, None)
            self.by_state[record.state] -= 1

    def remember_parsed(self, request_id: str, pegout: UnsignedPegout) -> None:
        self._parsed[request_id] = pegout

    def unsigned(self, record: PegoutRecord) -> UnsignedPegout:
        """The record's parsed transaction, parsed again if this process has not got it."""
        pegout = self._parsed.get(record.request_id)
        if pegout is None:
            pegout = self._parsed[record.request_id] = parse_record(record)
        return pegout

    def parsed_count(self) -> int:
        return len(self._parsed)

    def in_state(self, state: PegoutState) -> Iterator[PegoutRecord]:
        return (record for record in self.pegouts.values() if record.state == state.value)

    def unacknowledged(self) -> Iterator[PeginRecord]:
        return (record for record in self.pegins.values() if not record.acknowledged)

    def counts(self) -> str:
        """Open peg-outs by state, for the start line: `3 awaiting_signatures, 1 signed`."""
        counts: dict[str, int] = {}
        for record in self.pegouts.values():
            counts[record.state] = counts.get(record.state, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"

    def oldest_awaiting_since(self) -> float:
        """When the longest-waiting peg-out awaiting signatures began its series of
        attempts (its acceptance, or a client's RetryPegout); 0.0 when none waits."""
        if not self.awaiting:
            return 0.0
        return min((record.series_start for record in self.pegouts.values()
                    if record.state == AWAITING), default=0.0)
