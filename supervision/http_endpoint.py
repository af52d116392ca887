"""The launcher's HTTP endpoint: `/metrics`, `/healthz`, `/readyz` and `/info`.

The launcher's main loop asks the root for `NodeStatus` every health interval
and records the answer in `NodeHealth`; the handlers only read that record, so
a request never waits on the actor system.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from actors.messages import ConnectionStatus, NodeStatusReport
from runtime import metrics
from runtime.scraped import NodeCollector


class NodeHealth:
    """The latest view of the node, shared between the launcher loop and HTTP threads."""

    def __init__(self, *, stale_after_s: float, clock: Callable[[], float] = time.monotonic,
                 data_dir: str | None = None):
        """`data_dir`: the database's directory, whose free space `/metrics` reports."""
        self._lock = threading.Lock()
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._report: NodeStatusReport | None = None
        self._seen_at: float | None = None
        # What `/metrics` reads at scrape time: the actors' processes by the latest
        # report's pids, the build, the disk.
        self.scraped = (NodeCollector(self.actor_pids, data_dir),) if data_dir else ()

    def record(self, report: NodeStatusReport) -> None:
        with self._lock:
            self._report = report
            self._seen_at = self._clock()

    def actor_pids(self) -> list[tuple[str, int]]:
        """Each actor's name and pid as the latest report has them (none before one)."""
        with self._lock:
            report = self._report
        return [] if report is None else [(a.name, a.pid) for a in report.actors if a.pid]

    def alive(self) -> tuple[bool, str]:
        with self._lock:
            if self._seen_at is None:
                return False, "the node has not answered yet"
            age = self._clock() - self._seen_at
        if age > self._stale_after_s:
            return False, f"the root supervisor has not answered for {age:.1f}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        alive, why = self.alive()
        if not alive:
            return False, why
        with self._lock:
            report = self._report
        assert report is not None
        not_running = [a.name for a in report.actors if a.state != "running"]
        if not_running:
            return False, "not running: " + ", ".join(not_running)
        stream = report.stream
        if stream is None:
            return False, "governance stream is unknown"
        if stream.state != "connected":
            return False, _not_connected(stream)
        return True, "ok"


def _not_connected(stream: ConnectionStatus) -> str:
    """Why the stream is not ready, in its own words (an older stream says only its state)."""
    why = f"governance stream is {stream.state}"
    if stream.reason:
        why += f": {stream.reason}"
    if stream.last_error and stream.last_error not in stream.reason:
        why += f" (last error: {stream.last_error})"
    return why


def serve(host: str, port: int, health: NodeHealth,
          info: Callable[[], dict[str, Any]] | None = None) -> ThreadingHTTPServer:
    """Bind and serve in a daemon thread; raises OSError if the port is taken. `info`
    gives `/info`'s JSON document (`supervision.info.NodeInfo.document`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, metrics.exposition(*health.scraped), "text/plain; version=0.0.4")
            elif path == "/healthz":
                self._verdict(*health.alive())
            elif path == "/readyz":
                self._verdict(*health.ready())
            elif path == "/info" and info is not None:
                self._reply(200, (json.dumps(info(), indent=2) + "\n").encode(),
                            "application/json")
            else:
                self._reply(404, b"not found: try /metrics, /healthz, /readyz or /info\n")

        def _verdict(self, ok: bool, why: str) -> None:
            self._reply(200 if ok else 503, (why + "\n").encode())

        def _reply(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the node's log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
