"""The launcher under a stand-in for systemd: a Unix datagram socket in `NOTIFY_SOCKET`
(an abstract name and a path) receives READY, WATCHDOG while the root answers,
RELOADING and READY around a SIGHUP, and STOPPING; and `systemd-analyze verify` accepts
the shipped unit."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from harness.launcher import REPO, launch, stop, wait_ready
from harness.waiting import wait_until

pytestmark = pytest.mark.timeout(120)
UNIT = REPO / "ops" / "systemd" / "alys-node.service"
# A watchdog interval a test can wait through, with health asks often enough to keep it.
WATCHDOG_USEC, PING_INTERVAL_S = "2000000", 0.2


def ask_often(config_path: Path) -> None:
    document = yaml.safe_load(config_path.read_text())
    document.setdefault("supervision", {}).setdefault("health", {})["ping_interval_s"] = \
        PING_INTERVAL_S
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))


class FakeSystemd:
    """What the launcher sent, one datagram each, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: list[str] = []

    def messages(self) -> list[str]:
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.received

    def fields(self) -> list[str]:
        """Every line of every datagram, in order."""
        return [line for message in self.messages() for line in message.splitlines()]


@contextmanager
def notify_socket(address: str) -> Iterator[FakeSystemd]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + address[1:] if address.startswith("@") else address)
    sock.setblocking(False)
    try:
        yield FakeSystemd(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("kind", ["abstract", "path"])
def test_the_launcher_notifies_ready_watchdog_reloading_and_stopping(
        config_path: Path, tmp_path: Path, kind: str) -> None:
    address = (f"@alys-test-notify-{os.getpid()}-{time.monotonic_ns()}" if kind == "abstract"
               else str(tmp_path / "notify.sock"))
    ask_often(config_path)
    with notify_socket(address) as systemd:
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": WATCHDOG_USEC}
        launched = launch(config_path, tmp_path / "start.out", env=env)
        try:
            wait_ready(launched)
            wait_until(lambda: "READY=1" in systemd.fields(), timeout=30,
                       message=lambda: f"no READY=1: {systemd.received}")
            # Half the 2 s interval: a few beats within a few seconds, after READY.
            wait_until(lambda: systemd.fields().count("WATCHDOG=1") >= 3, timeout=30,
                       message=lambda: f"too few WATCHDOG=1: {systemd.received}")
            os.kill(launched.process.pid, signal.SIGHUP)

            def reloaded() -> bool:
                fields = systemd.fields()
                return "RELOADING=1" in fields and "READY=1" in \
                    fields[fields.index("RELOADING=1"):]

            wait_until(reloaded, timeout=30, message=lambda: f"no reload: {systemd.received}")
            reloading = next(m for m in systemd.messages() if "RELOADING=1" in m)
            assert reloading.splitlines()[1].startswith("MONOTONIC_USEC=")
        finally:
            assert stop(launched) == 0
        fields = systemd.fields()
        assert fields[-1] == "STOPPING=1"
        assert fields.index("READY=1") < fields.index("WATCHDOG=1")


def test_the_root_stopping_to_answer_stops_the_watchdog(config_path: Path,
                                                        tmp_path: Path) -> None:
    address = f"@alys-test-watchdog-{os.getpid()}-{time.monotonic_ns()}"
    ask_often(config_path)
    with notify_socket(address) as systemd:
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": WATCHDOG_USEC}
        launched = launch(config_path, tmp_path / "start.out", env=env)
        try:
            wait_ready(launched)
            wait_until(lambda: systemd.fields().count("WATCHDOG=1") >= 2, timeout=30,
                       message=lambda: f"no beats: {systemd.received}")
            root = int(next(line for line in Path(launched.config["logging"]["file"])
                            .read_text().splitlines() if "alys.root" in line
                            and "started pid=" in line).split("started pid=")[1].split()[0])
            os.kill(root, signal.SIGSTOP)  # alive and silent: a hung root
            # Counted once it is stopped: a test held up between counting and stopping
            # would otherwise see the beats of that delay as beats of the hung root.
            before = systemd.fields().count("WATCHDOG=1")
            log = Path(launched.config["logging"]["file"])
            wait_until(lambda: f"the root supervisor (pid {root}) did not answer" in
                       log.read_text(), timeout=30, message="the hung root was not killed")
            # Silent for ping_timeout_s (5 s): no beat but one in flight.
            assert systemd.fields().count("WATCHDOG=1") <= before + 1
            wait_until(lambda: systemd.fields().count("WATCHDOG=1") >= before + 3, timeout=60,
                       message="the beats did not come back with the new root")
        finally:
            assert stop(launched) == 0


def test_a_watchdog_interval_the_health_asks_cannot_keep_stops_the_start(
        config_path: Path, tmp_path: Path) -> None:
    # Asked every 1 s (the test config's ping_interval_s), the root's answers cannot carry
    # a beat within each 1 s: systemd would kill a healthy node again and again.
    address = f"@alys-test-short-watchdog-{os.getpid()}-{time.monotonic_ns()}"
    with notify_socket(address) as systemd:
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
        launched = launch(config_path, tmp_path / "start.out", env=env)
        try:
            assert launched.process.wait(timeout=60) == 1
        finally:
            stop(launched)  # a launcher that did start must not outlive the test
        assert "alys-node: systemd's watchdog interval (WATCHDOG_USEC: 1 s) is too short for " \
            "supervision.health.ping_interval_s (1 s)" in launched.text()
        assert "READY=1" not in systemd.fields()


def test_systemd_analyze_verifies_the_shipped_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    # verify checks that ExecStart exists: point the unit at this checkout.
    unit = tmp_path / "alys-node.service"
    unit.write_text(UNIT.read_text().replace("/opt/alys-node", str(REPO)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
