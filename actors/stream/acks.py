"""Acknowledging governance's pushes (docs/protocol.md, convention 8). Pure: no actor, no grpc.

A `FederationUpdate` or `ProposalNotification` is acknowledged with a
request that carries only metadata (the push's `request_id`), once the chain
has committed what it decided. Governance that predates the convention may
refuse a request without a payload, so whether the node sends them at all
is `governance.push_acks`: `on`, `off`, or `auto`, which follows the
`push-ack` feature of the `GetCapabilities` answer of the session's
endpoint (asked on every connect, before the registration).

`PushAcks` is the stream's memory of that decision and of the one thing a
`Handled` does not say: which frame id to acknowledge. The router keys a
proposal by its `proposal_id` (convention 6), while the ack names the
frame's `request_id`; the two differ only when governance chose so.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

PUSH_ACK_FEATURE = "push-ack"
# The request kind of an acknowledgement in the outbox and the metrics (priorities.py).
ACK_KIND = "push_ack"
# Ids kept for pushes whose router key is not their request id, while they are unhandled.
MAX_REMEMBERED_IDS = 100_000


class AckMode(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


def advertises_push_acks(features: Iterable[object]) -> bool:
    """Whether a `CapabilitiesResponse.features` list asks for push acknowledgements.

    Matched exactly, after trimming and case folding: a governance that writes
    `Push-Ack ` means the same thing, and anything else is not the feature."""
    return any(isinstance(feature, str) and feature.strip().casefold() == PUSH_ACK_FEATURE
               for feature in features)


class PushAcks:
    """Whether this session takes acknowledgements, and which id each handled push gets."""

    def __init__(self, mode: AckMode | str) -> None:
        self.mode = AckMode(mode)
        # What the current (or, while disconnected, the last) endpoint said; None: not asked.
        self.advertised: bool | None = None
        self._ids: dict[str, str] = {}  # router key -> the frame's request_id, where they differ
        self.sent = 0

    @property
    def needs_capabilities(self) -> bool:
        """Only `auto` depends on what governance says."""
        return self.mode is AckMode.AUTO

    @property
    def wanted(self) -> bool:
        if self.mode is AckMode.AUTO:
            return bool(self.advertised)
        return self.mode is AckMode.ON

    def track(self, key: str, request_id: str) -> None:
        """A push was routed under `key`; its acknowledgement names `request_id`."""
        if key != request_id and len(self._ids) < MAX_REMEMBERED_IDS:
            self._ids[key] = request_id

    def owed(self, key: str) -> str:
        """The chain handled `key`: the id to acknowledge (and forget the mapping)."""
        return self._ids.pop(key, key)
