"""Faults for a chaos run: SIGKILL an actor's process, or SIGSTOP it (a hang), and time recovery.

Recovery is measured from the signal to the replacement answering `Ping`
from a new pid, found through the root's `Lookup`, while the load keeps
running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from client import NodeClient, NoReply

GIVE_UP_S = 60.0


@dataclass(frozen=True)
class Fault:
    kind: str  # kill | hang
    actor: str
    old_pid: int
    new_pid: int | None
    recovery_s: float | None  # None: it did not come back within GIVE_UP_S


def current_pid(node: NodeClient, name: str) -> int | None:
    try:
        report = node.node_status(timeout_s=2.0)
    except NoReply:
        return None
    return next((a.pid for a in report.actors if a.name == name and a.state == "running"), None)


def inject(node: NodeClient, kind: str, actor: str,
           keep_busy: Callable[[], None]) -> Fault | None:
    """Signal `actor`'s process and wait for its replacement; None if it was not running."""
    old_pid = current_pid(node, actor)
    if old_pid is None:
        return None
    old_address = node.find(actor, timeout_s=0.5)
    started = time.monotonic()
    os.kill(old_pid, signal.SIGKILL if kind == "kill" else signal.SIGSTOP)

    def between_polls() -> None:
        keep_busy()  # after the check, so that the load's own work is not counted
        time.sleep(0.002)

    try:
        pong = node.wait_replaced(actor, old_pid, old_address=old_address, timeout_s=GIVE_UP_S,
                                  lookup_s=0.5, ping_s=0.2, between=between_polls)
        if pong is not None:
            return Fault(kind, actor, old_pid, pong.pid, time.monotonic() - started)
        return Fault(kind, actor, old_pid, None, None)
    finally:
        if kind == "hang":
            # The supervisor should have killed it; if not, do not leave it frozen.
            with contextlib.suppress(ProcessLookupError):
                os.kill(old_pid, signal.SIGKILL)
