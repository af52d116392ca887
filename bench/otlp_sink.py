"""A trace collector stand-in for `scripts/bench --tracing`: an OTLP/HTTP endpoint on
loopback that takes every export, counts it and throws it away.

A real collector runs on another machine; this one shares the benchmark's CPUs, so
what tracing costs is measured a little on the high side.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# More than the SDK's batch exporter ever sends at once (512 spans of a few hundred bytes).
MAX_EXPORT_BYTES = 16 * 1024 * 1024


class Sink:
    def __init__(self, keep: bool) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._bodies: list[bytes] = []
        self.exports = 0
        self.bytes = 0
        self.refused: list[str] = []  # "<path> <content type> <length>" of each one refused

    def took(self, body: bytes) -> None:
        with self._lock:
            self.exports += 1
            self.bytes += len(body)
            if self._keep:
                self._bodies.append(body)

    def bodies(self) -> list[bytes]:
        """The exports received so far, as sent (with `keep`; else none)."""
        with self._lock:
            return list(self._bodies)


@contextmanager
def otlp_sink(keep: bool = False) -> Iterator[tuple[str, Sink]]:
    """Yields the traces URL to configure and the counts of what arrived (and, with
    `keep`, the exports themselves)."""
    sink = Sink(keep)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            content_type = self.headers.get("Content-Type", "")
            if self.path != "/v1/traces" or content_type != "application/x-protobuf" \
                    or not 0 < length <= MAX_EXPORT_BYTES:
                with sink._lock:
                    sink.refused.append(f"{self.path} {content_type} {length}")
                self.send_error(400)
                return
            sink.took(self.rfile.read(length))
            # An empty ExportTraceServiceResponse is zero bytes of protobuf.
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
