"""What a peg-out decision reads besides the record, and what it returns (pure).

`Rules` is the config the workflow decides by; `Situation` the federation in force,
the rules, the time and the parsed-transaction cache; `Step` a decision: the record
afterwards and the effects, in order. `actors.bridge.workflow` re-exports all three.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actors.bridge.drain import Drain
from actors.bridge.effects import Effects
from actors.messages import Member
from actors.storage.records import PegoutRecord
from btc.federation import Federation
from btc.pegout import UnsignedPegout, parse_pegout
from btc.policy import SpendPolicy

if TYPE_CHECKING:
    from nodeconfig import NodeConfig


def parse_record(record: PegoutRecord) -> UnsignedPegout:
    """The stored unsigned transaction, parsed again (it was checked when it was accepted)."""
    return parse_pegout(record.tx_hex, record.input_indices, record.amounts,
                        max_pegout_sat=max(sum(record.amounts), 1))


@dataclass(frozen=True)
class Rules:
    """The config the workflow decides by (`bridge.*`, `governance.max_retry_after_s`)."""

    max_pegout_sat: int
    signature_retries: int
    signature_deadline_s: float = 3600.0
    attempt_timeout_s: float = 90.0
    transient_retry_s: float = 5.0
    max_retry_after_s: float = 300.0
    policy: SpendPolicy = field(default_factory=SpendPolicy)
    confirmations: int = 6

    @classmethod
    def of(cls, config: NodeConfig) -> Rules:
        bridge = config.bridge
        return cls(max_pegout_sat=bridge.max_pegout_sat,
                   signature_retries=bridge.signature_retries,
                   signature_deadline_s=bridge.signature_deadline_s,
                   attempt_timeout_s=bridge.attempt_timeout_s,
                   transient_retry_s=bridge.transient_retry_s,
                   max_retry_after_s=config.governance.max_retry_after_s,
                   policy=bridge.policy.spend_policy(), confirmations=bridge.confirmations)


def _no_outflow_cap(now_s: float, payout_sat: int) -> str | None:
    return None


_NO_EARLIER: Mapping[int, Federation[Member]] = {}


@dataclass(frozen=True)
class Situation:
    """What a decision may read besides the record: the federation in force, the rules, the
    time, and how to get a record's parsed transaction (the actor keeps a cache)."""

    federation: Federation[Member] | None
    rules: Rules
    now_s: float
    unsigned: Callable[[PegoutRecord], UnsignedPegout] = parse_record
    # Why paying `payout_sat` out now would break the outflow window, or None (the actor's
    # `OutflowWindow.refusal`).
    outflow: Callable[[float, int], str | None] = _no_outflow_cap
    drain: Drain | None = None  # set while an operator has drained the bridge

    @property
    def halted(self) -> bool:
        """Nothing is signed or broadcast without a federation or during an emergency halt."""
        return self.federation is None or self.federation.halted

    # The applied versions before the one in force whose coins may still be spent (the last
    # field: given by name).
    earlier: Mapping[int, Federation[Member]] = field(default_factory=lambda: _NO_EARLIER)

    def federation_for(self, version: int | None) -> Federation[Member] | str:
        """The federation whose coins a peg-out naming `version` spends (None: the one in
        force), or why there is none to sign with."""
        current = self.federation
        if current is None:
            return "no federation yet"
        if version is None or version == current.version:
            return current
        if isinstance(version, bool) or not isinstance(version, int):
            return f"federation_version {version!r} is not an integer"
        found = self.earlier.get(version)
        if found is not None:
            return found
        if version > current.version:
            return (f"federation version {version} is unknown: version {current.version} "
                    "is in force")
        spendable = ", ".join(str(v) for v in sorted((*self.earlier, current.version)))
        return (f"federation version {version} is retired or was never in force: peg-outs "
                f"may spend coins of versions {spendable}")


@dataclass(frozen=True)
class Step:
    """A decision: the peg-out's record afterwards (None: there is none to keep) and the
    effects, in order. `parsed` is the transaction a new peg-out was checked with."""

    record: PegoutRecord | None
    effects: Effects = ()
    parsed: UnsignedPegout | None = field(default=None, compare=False)
