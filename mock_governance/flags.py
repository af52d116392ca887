"""The mock's misbehaviour switches, the gate `stall` closes, the errors `error_next` plans
and the faults `signature_fault` plants in signature answers."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class ErrorNext:
    """Answer the next ``count`` signature requests, peg-ins and status updates with an error."""

    count: int
    code: str  # a actors.stream.convert.ERROR_CODES name
    retry_after_s: int | None
    message: str


class SignatureFaultKind(StrEnum):
    """What is wrong with a faulty signature answer (see mock_governance.signer)."""

    TOO_FEW = "too_few"  # COMPLETE, but threshold - 1 signatures per input
    WRONG_SIGNATURE = "wrong_signature"  # a valid signature over another digest
    NON_MEMBER = "non_member"  # one signature by a key outside the federation
    PARTIAL = "partial"  # PARTIAL, with the first input's signatures only
    FAILED = "failed"  # FAILED, with a failure_reason
    TIMEOUT = "timeout"  # TIMEOUT, no signatures


class Preamble(StrEnum):
    """What goes ahead of every answer to a signature request (`signature_preamble`)."""

    ACK = "ack"  # a metadata-only response: an acknowledgement, which answers nothing
    PENDING = "pending"  # a SignatureResponse with status PENDING and no signatures


@dataclass(frozen=True)
class SignatureFault:
    """Plant ``kind`` in the next ``count`` signature answers; ``count=None``: until changed."""

    kind: SignatureFaultKind
    count: int | None


@dataclass(frozen=True)
class Flags:
    """A consistent snapshot: a handler sees one value for every switch."""

    refuse_registration: bool = False
    stall: bool = False
    require_token: str | None = None
    error_next: ErrorNext | None = None
    answer_twice: bool = False
    silent: bool = False
    signature_fault: SignatureFault | None = None
    hold_signatures: bool = False
    signature_preamble: Preamble | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FlagBoard:
    """Holds the current Flags; threads held by ``stall`` wait on its condition."""

    def __init__(self, initial: Flags | None = None) -> None:
        self._changed = threading.Condition()
        self._flags = initial or Flags()

    @property
    def current(self) -> Flags:
        with self._changed:
            return self._flags

    def set(self, **changes: Any) -> Flags:
        with self._changed:
            self._flags = dataclasses.replace(self._flags, **changes)
            self._changed.notify_all()
            return self._flags

    def take_error(self) -> ErrorNext | None:
        """Use up one planned error, if any: the plan as it was before this one."""
        with self._changed:
            planned = self._flags.error_next
            if planned is not None:
                left = dataclasses.replace(planned, count=planned.count - 1)
                self._flags = dataclasses.replace(
                    self._flags, error_next=left if left.count > 0 else None
                )
            return planned

    def take_signature_fault(self) -> SignatureFaultKind | None:
        """Use up one planned signature fault, if any; a fault without a count is not used up."""
        with self._changed:
            planned = self._flags.signature_fault
            if planned is None:
                return None
            if planned.count is not None:
                left = dataclasses.replace(planned, count=planned.count - 1)
                self._flags = dataclasses.replace(
                    self._flags, signature_fault=left if left.count else None
                )
            return planned.kind

    def wake(self) -> None:
        """Make waiters re-check their exit condition (a stream closed or was dropped)."""
        with self._changed:
            self._changed.notify_all()

    def wait_while_stalled(self, give_up: Callable[[], bool]) -> bool:
        """Block while ``stall`` is on; True once traffic may flow, False if gave up.

        ``give_up`` is re-checked whenever the board is woken (flag changes,
        streams closing or being dropped, shutdown).
        """
        with self._changed:
            while self._flags.stall:
                if give_up():
                    return False
                self._changed.wait()
            return True
