"""harness/prometheus.py's server: a port taken between choosing it and binding it (a
node's outgoing connection may take any free port) means another port, not a failure."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import harness.prometheus
from harness.ports import LOOPBACK, free_port
from harness.prometheus import PrometheusServer

pytestmark = pytest.mark.timeout(90)


def test_a_port_taken_before_prometheus_binds_it_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(harness.prometheus, "free_port", lambda: next(ports))
        server = PrometheusServer.start(tmp_path, f"{LOOPBACK}:1", [])
        try:
            assert server.port != taken.getsockname()[1] and server.ready()
        finally:
            server.stop()
        assert server.process.returncode is not None
