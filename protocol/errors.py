"""Errors of the protocol package (the governance.v1 boundary): one root.

The mock server has its own hierarchy (mock_governance/errors.py): it is a test
tool, and its errors carry HTTP statuses, not wire problems.
"""

from __future__ import annotations

from typing import Any


class ProtocolError(Exception):
    """Root of every error the node raises at the governance.v1 boundary."""


class EncodeError(ProtocolError):
    """A message dataclass holds a value governance.v1 cannot carry (a bug upstream)."""


class MalformedFrame(ProtocolError):
    """A frame from governance is unusable: the stream counts it and skips it.

    ``reason`` says precisely what is wrong; ``request_id`` is set when the
    frame's metadata could be read and holds a valid id, so the frame can be
    logged against it; ``kind`` is the refusal's label in
    ``alys_stream_unexpected_frames_total`` (``actors.stream.wire.checks.Refusal``).
    """

    def __init__(self, reason: str, request_id: str | None = None,
                 kind: str = "malformed") -> None:
        text = reason if request_id is None else f"{reason} (request_id {request_id!r})"
        super().__init__(text)
        self.reason = reason
        self.request_id = request_id
        self.kind = kind

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle from self.args; ours has keywords too, and may
        # cross a Thespian process boundary.
        return (type(self), (self.reason, self.request_id, self.kind))
