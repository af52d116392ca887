"""How owners of durable state (the bridge, the chain) speak to the StorageActor:
load at start, persist in one transaction, read back. Internal to the node.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.storage.records import (
    FederationRecord,
    Loaded,
    PegoutRecord,
    ProposalRecord,
    Record,
    Taken,
)


@dataclass(frozen=True, repr=False)
class _Persist:
    """Write these records in one transaction; answer `_Persisted` after the commit.

    `groups`: the first writes among them, each `(start, stop, insert_new)`, the positions
    `start` to `stop - 1` of `records`, in order and apart. A group is written whole or not
    at all: the first thing one finds (a coin its `Claim` wants held by another peg-out,
    or, with `insert_new`, a key its new peg-out or peg-in takes held by another record)
    undoes it, and `_Persisted.found` says what it found."""

    owner: str
    seq: int
    records: tuple[Record, ...]
    groups: tuple[tuple[int, int, bool], ...] = ()
    # The spans (W3C traceparent text) of the writes in it, while tracing is on: the
    # StorageActor's commit is a span in each of their traces.
    traceparents: tuple[str, ...] = ()

    def __repr__(self) -> str:  # constant-time: Thespian formats every message it sends
        return f"_Persist({self.owner} #{self.seq}, {len(self.records)} records)"


@dataclass(frozen=True)
class _Persisted:
    """Committed. `found`: for each group of the `_Persist` that found something, the
    position of the record that did and what it found (the stored record, or a `Held`);
    that group changed nothing."""

    owner: str
    seq: int
    found: tuple[tuple[int, Taken], ...] = ()


@dataclass(frozen=True)
class _PersistFailed:
    """Nothing of that write was committed; `reason` names the database and the problem.
    `permanent`: the same records would fail again (a value SQLite cannot hold, a
    constraint), so the owner must not retry them as they are; otherwise the failure may
    pass (a full disk, a locked or unreadable file). False by default: what a StorageActor
    without the flag sent was always retried."""

    owner: str
    seq: int
    reason: str
    permanent: bool = False


@dataclass(frozen=True)
class _Load:
    """The owner's state after a (re)start; what is older than the `_since` times (its
    retention) is left out. The bridge's: its peg-outs in `pegout_states` (empty: the open
    ones) and, with `outflow_since`, one `OutflowEntry` per peg-out created since then
    that counts against the outflow window (see `Database.load`)."""

    owner: str
    handled_since: float = 0.0
    proposals_since: float = 0.0
    pegout_states: tuple[str, ...] = ()
    outflow_since: float | None = None


@dataclass(frozen=True)
class _Fetch:
    """Read peg-outs (one by `request_id`, or all in `state`: the newest `limit` of them if
    it is set), or, with `proposals_since`, the proposals received since then, or, with
    `federations`, the federation versions (the newest `limit` if set); answered
    `_Fetched`."""

    owner: str
    query_id: int
    request_id: str | None = None
    state: str | None = None
    proposals_since: float | None = None
    federations: bool = False
    limit: int | None = None


@dataclass(frozen=True, repr=False)
class _Fetched:
    """The records a `_Fetch` found, or `error` (and no records) if the read failed."""

    owner: str
    query_id: int
    records: (tuple[PegoutRecord, ...] | tuple[ProposalRecord, ...]
              | tuple[FederationRecord, ...]) = ()
    error: str | None = None

    def __repr__(self) -> str:
        return f"_Fetched({self.owner} #{self.query_id}, {len(self.records)} records)"


@dataclass(frozen=True, repr=False)
class _Loaded:
    owner: str
    records: tuple[Loaded, ...]

    def __repr__(self) -> str:
        return f"_Loaded({self.owner}, {len(self.records)} records)"
