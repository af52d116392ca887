"""The federation versions the ChainActor knows: the one in force and the scheduled ones.

Pure: the actor persists what this decides. A version is `scheduled` until
the height reaches its `effective_height`, then `applied`; the federation in
force is the applied one with the highest version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from actors.messages import FederationChanged, FederationVersion, Member, UpdateFederation
from actors.storage.records import FederationRecord
from btc.federation import SPENDABLE_VERSIONS, Federation

SCHEDULED = "scheduled"
APPLIED = "applied"


def changed_message(record: FederationRecord,
                    earlier: Iterable[FederationRecord] = ()) -> FederationChanged:
    return FederationChanged(
        version=record.version, members=record.members, threshold=record.threshold,
        witness_script=record.witness_script, address=record.address,
        halted=record.halted, script_type=record.script_type,
        earlier=tuple(changed_message(r) for r in earlier),
    )


def record_for(federation: Federation[Member], *, update_type: str, effective_height: int,
               height: int, network: str, request_id: str | None,
               now_s: float) -> FederationRecord:
    return FederationRecord(
        version=federation.version, update_type=update_type, members=federation.members,
        threshold=federation.threshold, effective_height=effective_height,
        witness_script=federation.witness_script, address=federation.address(network),
        state=SCHEDULED if effective_height > height else APPLIED,
        request_id=request_id, recorded_at=now_s, script_type=federation.script_type,
    )


def record_from_update(update: UpdateFederation, federation: Federation[Member], *,
                       height: int, network: str, now_s: float) -> FederationRecord:
    return record_for(federation, update_type=update.update_type,
                      effective_height=update.effective_height, height=height,
                      network=network, request_id=update.request_id, now_s=now_s)


def federation_version(record: FederationRecord) -> FederationVersion:
    """A stored version as the client contract shows it."""
    return FederationVersion(
        version=record.version, update_type=record.update_type, threshold=record.threshold,
        members=tuple(sorted(m.public_key.hex() for m in record.members if m.active)),
        address=record.address, effective_height=record.effective_height,
        state=record.state, recorded_at=record.recorded_at, halted=record.halted,
        script_type=record.script_type)


class FederationBook:
    def __init__(self) -> None:
        self.current: FederationRecord | None = None
        self.scheduled: dict[int, FederationRecord] = {}
        # Versions only grow: kept as they are added rather than found by a scan of
        # every scheduled version for each update (quadratic under a stream of them).
        self._latest: int | None = None
        # Applied versions before `current`, by version: the spendable ones (`earlier`) and
        # one more, which becomes spendable again if a new version cannot be stored.
        self._earlier: dict[int, FederationRecord] = {}

    def load(self, records: Iterable[FederationRecord]) -> None:
        for record in records:
            self.add(record)

    def add(self, record: FederationRecord) -> None:
        if self._latest is None or record.version > self._latest:
            self._latest = record.version
        if record.state == SCHEDULED:
            self.scheduled[record.version] = record
        elif self.current is None or record.version > self.current.version:
            if self.current is not None:
                self._earlier[self.current.version] = self.current
            self.current = record
            self._trim_earlier()
        else:
            self._earlier[record.version] = record  # on record only, yet applied
            self._trim_earlier()

    def _trim_earlier(self) -> None:
        for version in sorted(self._earlier)[:-SPENDABLE_VERSIONS]:
            del self._earlier[version]

    def earlier(self) -> list[FederationRecord]:
        """The applied versions before the one in force that peg-outs may spend, newest
        first (with it, `SPENDABLE_VERSIONS` in all)."""
        below = sorted((v for v in self._earlier
                        if self.current is None or v < self.current.version), reverse=True)
        return [self._earlier[v] for v in below[:SPENDABLE_VERSIONS - 1]]

    def latest_script_type(self) -> str:
        """The script type of the latest version known, scheduled or applied: an update
        without a `script_type` keeps it (convention 10)."""
        latest = self.scheduled.get(self._latest) if self._latest is not None else None
        record = latest or self.current
        return record.script_type if record is not None else "p2wsh"

    def remove(self, record: FederationRecord, previous: FederationRecord | None) -> None:
        """Forget `record`, added when `previous` was in force, as if it had never come:
        it could not be stored. A version added since keeps its place."""
        if self.scheduled.get(record.version) is record:
            del self.scheduled[record.version]
        if self.current is record:
            self.current = previous
            if previous is not None:
                self._earlier.pop(previous.version, None)
        versions = [*self.scheduled, *([self.current.version] if self.current else [])]
        self._latest = max(versions, default=None)

    @property
    def latest_version(self) -> int | None:
        return self._latest

    def due(self, height: int) -> list[FederationRecord]:
        """Scheduled versions whose height has come, now applied (revision bumped), in order.

        A scheduled version lower than the one in force is applied on record
        only; the caller announces `current`, the highest."""
        ready = sorted(v for v, r in self.scheduled.items() if r.effective_height <= height)
        applied = []
        for version in ready:
            record = self.scheduled.pop(version)
            record = dataclasses.replace(record, state=APPLIED, revision=record.revision + 1)
            self.add(record)
            applied.append(record)
        return applied

    def active_keys_hex(self) -> tuple[str, ...]:
        if self.current is None:
            return ()
        return tuple(k.hex() for k in self.current.federation().keys)

    def schedule_summary(self) -> tuple[tuple[int, int], ...]:
        return tuple(sorted((v, r.effective_height) for v, r in self.scheduled.items()))
