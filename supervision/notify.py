"""Telling a process manager how the node is doing: systemd's notify protocol.

With `Type=notify`, systemd hands the launcher a Unix datagram socket in
`NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`) and waits
for `READY=1`; with `WatchdogSec=` it sets `WATCHDOG_USEC` and kills a service that
sends no `WATCHDOG=1` within it. Around a reload the service says `RELOADING=1`
(with `MONOTONIC_USEC=`, which newer systemd requires) and `READY=1` again; on
its way out, `STOPPING=1`. Without `NOTIFY_SOCKET` every call does nothing, so the
launcher calls them unconditionally.

`WatchdogBeat` decides when to beat (pure, injected clock): at half the interval,
and only on the launcher's word that the root supervisor just answered.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

MAX_WATCHDOG_USEC = 10**12  # eleven days: a bound, not a policy


class NotifyError(ValueError):
    """The environment names a socket or watchdog this module cannot use."""


class Notifier:
    """Datagrams to the socket in `NOTIFY_SOCKET`; nothing at all without one."""

    def __init__(self, address: str | None) -> None:
        if address is not None and not (address.startswith("/") or address.startswith("@")):
            raise NotifyError(f"NOTIFY_SOCKET must be an absolute path or start with @, "
                              f"got {address!r}")
        self.address = address

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Notifier:
        return cls(env.get("NOTIFY_SOCKET") or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """One datagram of `fields`, a line each; False if there is no socket or it failed
        (systemd gone: the node goes on; its process manager will notice)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode(), target)
        except OSError:
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *self._status(status))

    def reloading(self, monotonic_usec: int | None = None) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000 if monotonic_usec is None \
            else monotonic_usec
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    @staticmethod
    def _status(status: str) -> tuple[str, ...]:
        return (f"STATUS={' '.join(status.split())}",) if status else ()


def watchdog_interval_s(env: Mapping[str, str] = os.environ,
                        pid: int | None = None) -> float | None:
    """systemd's watchdog interval for this process, in seconds; None if there is none
    (or `WATCHDOG_PID` names another process, as sd_watchdog_enabled reads it)."""
    text = env.get("WATCHDOG_USEC")
    if not text:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner and owner.isdigit() and int(owner) != (os.getpid() if pid is None else pid):
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_WATCHDOG_USEC:
        raise NotifyError(f"WATCHDOG_USEC must be a whole number of microseconds from 1 to "
                          f"{MAX_WATCHDOG_USEC}, got {text!r}")
    return int(text) / 1e6


def watchdog_problem(interval_s: float | None, answer_every_s: float,
                     answer_within_s: float) -> str | None:
    """Why beats sent after the root's answers cannot keep within systemd's watchdog
    interval (None if they can): a beat falls due half an interval after the last one and
    goes out with the next answer, asked every `answer_every_s` and waited for up to
    `answer_within_s`; so a healthy node would be killed unless the interval is longer
    than twice the two."""
    if interval_s is None or interval_s > 2 * (answer_every_s + answer_within_s):
        return None
    return (f"systemd's watchdog interval (WATCHDOG_USEC: {interval_s:g} s) is too short for "
            f"supervision.health.ping_interval_s ({answer_every_s:g} s): the launcher beats "
            f"when the root answers, so WatchdogSec= must be over twice ping_interval_s "
            f"plus {answer_within_s:g} s, over {2 * (answer_every_s + answer_within_s):g} s")


class WatchdogBeat:
    """When to send `WATCHDOG=1`: at most every half interval, each time right after the
    root answered. A root that stops answering stops the beats, and systemd restarts the
    node once the interval passes (the launcher's own recovery must fit in it)."""

    def __init__(self, interval_s: float | None, clock: Callable[[], float] = time.monotonic):
        self.period_s = interval_s / 2 if interval_s else None
        self._clock = clock
        self._next_at = clock()

    def root_answered(self) -> bool:
        """The root just answered: True if a beat is due now (and counts it sent)."""
        if self.period_s is None:
            return False
        now = self._clock()
        if now < self._next_at:
            return False
        self._next_at = now + self.period_s
        return True
