"""Draining: the bridge takes no new peg-outs while an operator maintains the node (pure).

While drained, a new `InitiatePegout` and a `RetryPegout` (a new series of signing for
a failed peg-out) are refused with the kind `draining`, the operator's reason and since
when; what the bridge accepted before goes on to completion. The state is one meta value
in storage (`DRAINED`), so a restarted bridge or node is still drained: an undrain is an
operator's decision, never a restart's side effect.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from actors.storage.records import BRIDGE_META

# The stored drain: JSON `{"reason": ..., "since": ...}`, or "" once undrained.
DRAINED = BRIDGE_META + "drained"
MAX_REASON_CHARS = 500  # a reason is for a log line and a refusal, not a document
LATEST_SINCE_S = 253_402_300_799  # 9999-12-31T23:59:59Z: the last time `utc` can show


@dataclass(frozen=True)
class Drain:
    """The bridge is drained since `since` (Unix seconds) for `reason`."""

    reason: str
    since: float

    def refusal(self) -> str:
        why = self.reason or "no reason given"
        return (f"the node is draining since {utc(self.since)} ({why}): it accepts no new "
                "peg-outs until an operator undrains it")

    def encode(self) -> str:
        return json.dumps({"reason": self.reason, "since": self.since}, sort_keys=True)


def decode(text: str) -> Drain | None:
    """The stored value back; "" (undrained) is None. A value this code did not write
    raises ValueError: the caller must not guess whether the node was drained."""
    if text == "":
        return None
    value = json.loads(text)
    if (not isinstance(value, dict) or not isinstance(value.get("reason"), str)
            or not isinstance(value.get("since"), int | float)
            or isinstance(value.get("since"), bool) or not math.isfinite(value["since"])
            or not 0 <= value["since"] <= LATEST_SINCE_S):  # else `utc` raises on it
        raise ValueError(f"{DRAINED} holds {text[:200]!r}, not a drain this node wrote")
    return Drain(value["reason"], float(value["since"]))


def reason_problem(reason: object) -> str | None:
    """Why `reason` cannot be a drain's reason; None if it can."""
    if not isinstance(reason, str):
        return f"the reason must be text, got {type(reason).__name__}"
    if len(reason) > MAX_REASON_CHARS:
        return f"the reason is {len(reason)} characters long; at most {MAX_REASON_CHARS}"
    if not reason.isprintable():
        return "the reason must be printable text on one line"
    return None


def utc(at_s: float) -> str:
    return datetime.fromtimestamp(int(at_s), tz=UTC).isoformat().replace("+00:00", "Z")
