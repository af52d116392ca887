"""One gRPC channel and one `GovernanceStream.Stream` call, inside the StreamActor's process.

This is the only module of the node that imports grpc, and the StreamActor
imports it only after it started (gRPC must never be initialised in a
process that forks afterwards). A connection owns:

- a request iterator that blocks on a queue: the actor puts requests, gRPC's
  own thread writes them to the wire;
- a reader thread that turns every frame into an event for the actor's
  `Inbox`. Frames arrive as raw bytes (no deserializer on the call), so a
  frame that does not parse is reported as `Malformed` and the stream lives
  on, instead of gRPC failing the whole call. Heartbeat acks jump the queue:
  they prove the stream alive when they arrive, however much data waits
  before them.

Every event carries the connection's generation; the actor ignores events of
a connection it has already replaced.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from actors.stream.convert import HeartbeatAcked, MalformedFrame, decode_bytes
from actors.stream.inbox import Inbox
from protocol import governance_pb2

STREAM_METHOD = "/governance.v1.GovernanceStream/Stream"
_CLOSE = object()  # tells the request iterator to end the call's sending side


@dataclass(frozen=True)
class Received:
    generation: int
    inbound: Any  # a actors.stream.convert Inbound


@dataclass(frozen=True)
class Malformed:
    generation: int
    reason: str


@dataclass(frozen=True)
class Closed:
    generation: int
    code: str  # a grpc.StatusCode name, "OK" when the server ended the stream cleanly
    details: str


@dataclass(frozen=True)
class ConnectionSettings:
    endpoint: str  # host:port
    tls_enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None  # never logged, never part of an error text
    keepalive_time_s: float = 5.0
    keepalive_timeout_s: float = 15.0

    def __repr__(self) -> str:
        # The token must not leak through a log line that prints the settings.
        token = "<set>" if self.token else None
        return (f"ConnectionSettings(endpoint={self.endpoint!r}, tls={self.tls_enabled}, "
                f"client_cert={self.cert_file is not None}, token={token})")


def _read_optional(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


class GovernanceConnection:
    def __init__(self, settings: ConnectionSettings, generation: int, inbox: Inbox) -> None:
        self.settings = settings
        self.generation = generation
        self._inbox = inbox
        self._outbound: queue.Queue[Any] = queue.Queue()
        self._closing = threading.Event()
        self._channel: grpc.Channel | None = None
        self._call: Any = None
        # Written by the reader thread for every frame (a float store is atomic):
        # data arriving proves the stream alive even while acks wait behind it.
        self.last_frame_at = time.monotonic()

    def open(self) -> None:
        """Create the channel and start the call; failures arrive later as `Closed`."""
        settings = self.settings
        keepalive_ms = int(settings.keepalive_time_s * 1000)
        options = [
            # Our own heartbeats are the liveness contract; keepalive also catches
            # a dead TCP peer that never answers at all.
            ("grpc.keepalive_time_ms", keepalive_ms),
            ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.enable_retries", 0),  # the actor decides about reconnects
        ]
        if settings.tls_enabled:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_optional(settings.ca_file),
                private_key=_read_optional(settings.key_file),
                certificate_chain=_read_optional(settings.cert_file),
            )
            self._channel = grpc.secure_channel(settings.endpoint, credentials, options)
        else:
            self._channel = grpc.insecure_channel(settings.endpoint, options)
        stream = self._channel.stream_stream(
            STREAM_METHOD,
            request_serializer=governance_pb2.StreamRequest.SerializeToString,
            response_deserializer=None,
        )
        metadata = (("authorization", f"Bearer {settings.token}"),) if settings.token else ()
        self._call = stream(self._requests(), metadata=metadata)
        threading.Thread(target=self._read, name=f"governance-reader-{self.generation}",
                         daemon=True).start()

    def send(self, request: governance_pb2.StreamRequest) -> None:
        self._outbound.put(request)

    def close(self) -> None:
        """End the call and the channel; the reader's last event is then ignored."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._outbound.put(_CLOSE)
        if self._call is not None:
            self._call.cancel()
        if self._channel is not None:
            self._channel.close()

    # -- threads -------------------------------------------------------------------

    def _requests(self) -> Any:
        while True:
            item = self._outbound.get()
            if item is _CLOSE:
                return
            yield item

    def _read(self) -> None:
        try:
            for frame in self._call:
                self.last_frame_at = time.monotonic()
                try:
                    inbound = decode_bytes(frame)
                except MalformedFrame as exc:
                    if not self._deliver(Malformed(self.generation, str(exc))):
                        return
                    continue
                if isinstance(inbound, HeartbeatAcked):
                    self._inbox.put_urgent(Received(self.generation, inbound))
                elif not self._deliver(Received(self.generation, inbound)):
                    return
            self._deliver(Closed(self.generation, "OK", "governance ended the stream"))
        except grpc.RpcError as exc:
            code = exc.code()
            self._deliver(Closed(self.generation, code.name if code else "UNKNOWN",
                                 exc.details() or ""))
        except Exception as exc:  # a bug here must not die silently in a thread
            self._deliver(Closed(self.generation, "INTERNAL", f"reader failed: {exc!r}"))

    def _deliver(self, event: Any) -> bool:
        """Hand an event to the actor, waiting while its inbox is full; False once closing."""
        while not self._closing.is_set():
            try:
                self._inbox.put(event, timeout_s=0.5)
                return True
            except queue.Full:
                continue
        return False
