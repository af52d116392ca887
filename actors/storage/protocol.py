"""How owners of durable state (the bridge, the chain) speak to the StorageActor:
load at start, persist in one transaction, read back. Internal to the node.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.storage.records import Loaded, PegoutRecord, Record


@dataclass(frozen=True, repr=False)
class _Persist:
    """Write these records in one transaction; answer `_Persisted` after the commit."""

    owner: str
    seq: int
    records: tuple[Record, ...]

    def __repr__(self) -> str:  # constant-time: Thespian formats every message it sends
        return f"_Persist({self.owner} #{self.seq}, {len(self.records)} records)"


@dataclass(frozen=True)
class _Persisted:
    owner: str
    seq: int


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
    owner: str


@dataclass(frozen=True)
class _Fetch:
    """Read peg-outs (one by `request_id`, or all in `state`); answered `_Fetched`."""

    owner: str
    query_id: int
    request_id: str | None = None
    state: str | None = None


@dataclass(frozen=True, repr=False)
class _Fetched:
    """The records a `_Fetch` found, or `error` (and no records) if the read failed."""

    owner: str
    query_id: int
    records: tuple[PegoutRecord, ...] = ()
    error: str | None = None

    def __repr__(self) -> str:
        return f"_Fetched({self.owner} #{self.query_id}, {len(self.records)} records)"


@dataclass(frozen=True, repr=False)
class _Loaded:
    owner: str
    records: tuple[Loaded, ...]

    def __repr__(self) -> str:
        return f"_Loaded({self.owner}, {len(self.records)} records)"
