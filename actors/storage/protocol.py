"""How owners of durable state (the bridge, the chain) speak to the StorageActor:
load at start, persist in one transaction, read back. Internal to the node.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.storage.records import Loaded, PegoutRecord, ProposalRecord, Record


@dataclass(frozen=True, repr=False)
class _Persist:
    """Write these records in one transaction; answer `_Persisted` after the commit.
    The records at the positions in `first` are new records' first writes: inserted only
    if their key is absent (`_Persisted.found` says which were not)."""

    owner: str
    seq: int
    records: tuple[Record, ...]
    first: tuple[int, ...] = ()

    def __repr__(self) -> str:  # constant-time: Thespian formats every message it sends
        return f"_Persist({self.owner} #{self.seq}, {len(self.records)} records)"


@dataclass(frozen=True)
class _Persisted:
    """Committed. `found`: each first write (by its position in the `_Persist`) whose key
    another record already held, with that stored record; the first write changed nothing."""

    owner: str
    seq: int
    found: tuple[tuple[int, Record], ...] = ()


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
    retention) is left out."""

    owner: str
    handled_since: float = 0.0
    proposals_since: float = 0.0


@dataclass(frozen=True)
class _Fetch:
    """Read peg-outs (one by `request_id`, or all in `state`), or, with `proposals_since`,
    the proposals received since then; answered `_Fetched`."""

    owner: str
    query_id: int
    request_id: str | None = None
    state: str | None = None
    proposals_since: float | None = None


@dataclass(frozen=True, repr=False)
class _Fetched:
    """The records a `_Fetch` found, or `error` (and no records) if the read failed."""

    owner: str
    query_id: int
    records: tuple[PegoutRecord, ...] | tuple[ProposalRecord, ...] = ()
    error: str | None = None

    def __repr__(self) -> str:
        return f"_Fetched({self.owner} #{self.query_id}, {len(self.records)} records)"


@dataclass(frozen=True, repr=False)
class _Loaded:
    owner: str
    records: tuple[Loaded, ...]

    def __repr__(self) -> str:
        return f"_Loaded({self.owner}, {len(self.records)} records)"
