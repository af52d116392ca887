"""systemd's notify protocol: the datagrams, the environment it comes from, and when the
watchdog beats (a fake clock)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from supervision.notify import (
    Notifier,
    NotifyError,
    WatchdogBeat,
    watchdog_interval_s,
    watchdog_problem,
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(5)
    try:
        yield path, sock
    finally:
        sock.close()


def test_each_call_is_one_datagram_of_lines(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    notifier = Notifier(path)
    assert notifier.ready("node  a\nrunning")
    assert sock.recv(4096) == b"READY=1\nSTATUS=node a running"
    assert notifier.reloading(monotonic_usec=42)
    assert sock.recv(4096) == b"RELOADING=1\nMONOTONIC_USEC=42"
    assert notifier.watchdog() and sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping() and sock.recv(4096) == b"STOPPING=1"


def test_an_abstract_name_is_reached_with_its_leading_nul() -> None:
    name = f"alys-unit-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier("@" + name).watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_a_socket_nothing_is_sent_and_a_gone_one_does_not_raise(
        tmp_path: Path) -> None:
    assert not Notifier.from_env({}).enabled
    assert Notifier.from_env({}).ready() is False
    assert Notifier(str(tmp_path / "nobody-listens")).ready() is False


def test_a_socket_name_that_is_neither_path_nor_abstract_is_refused() -> None:
    with pytest.raises(NotifyError, match="absolute path or start with @"):
        Notifier("relative/notify")


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "123"}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "124"}, None),  # another process's
])
def test_the_watchdog_interval_comes_from_the_environment(env: dict[str, str],
                                                          expected: float | None) -> None:
    assert watchdog_interval_s(env, pid=123) == expected


@pytest.mark.parametrize("usec", ["0", "-5", "1.5", "x", str(10**12 + 1)])
def test_an_unusable_watchdog_interval_is_refused(usec: str) -> None:
    with pytest.raises(NotifyError, match="WATCHDOG_USEC"):
        watchdog_interval_s({"WATCHDOG_USEC": usec}, pid=1)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watchdog_beats_at_half_the_interval_and_only_when_the_root_answered() -> None:
    clock = Clock()
    beat = WatchdogBeat(10.0, clock)
    assert beat.root_answered()  # the first answer beats at once
    clock.now += 4.9
    assert not beat.root_answered()
    clock.now += 0.1
    assert beat.root_answered()
    clock.now += 60  # the root said nothing meanwhile: nothing was due to anyone
    assert beat.root_answered()
    assert not beat.root_answered()


def test_no_watchdog_never_beats() -> None:
    assert not WatchdogBeat(None, Clock()).root_answered()


def test_a_watchdog_interval_the_health_asks_cannot_keep_is_refused() -> None:
    # Beats go out with the root's answers: asked every 30 s, one may come 30.5 s after
    # a beat fell due at 30 s, past a 60 s interval.
    assert watchdog_problem(60.0, 30.0, 0.5) == (
        "systemd's watchdog interval (WATCHDOG_USEC: 60 s) is too short for "
        "supervision.health.ping_interval_s (30 s): the launcher beats when the root "
        "answers, so WatchdogSec= must be over twice ping_interval_s plus 0.5 s, over 61 s")
    assert watchdog_problem(61.0, 30.0, 0.5) is not None


def test_a_watchdog_interval_the_health_asks_keep_passes() -> None:
    assert watchdog_problem(60.0, 1.0, 0.5) is None
    assert watchdog_problem(61.5, 30.0, 0.5) is None
    assert watchdog_problem(None, 600.0, 0.5) is None  # no watchdog
