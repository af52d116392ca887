"""One gRPC channel and one `GovernanceStream.Stream` call, inside the StreamActor's process.

This is the only module of the node that imports grpc, and the StreamActor
imports it only after it started (gRPC must never be initialised in a
process that forks afterwards). A connection owns:

- a request iterator that blocks on a queue: the actor puts requests, gRPC's
  own thread writes them to the wire;
- a reader thread that turns every frame into an event for the actor's
  `Inbox`. Frames arrive as raw bytes (no deserializer on the call) and go
  through `decode_frame`, which never raises: a frame the node cannot use is
  reported as `Malformed` with its refusal kind and the stream lives on,
  instead of gRPC failing the whole call. Heartbeat acks jump the queue:
  they prove the stream alive when they arrive, however much data waits
  before them.

A frame over `governance.limits.max_frame_bytes` reaches the reader and is
refused unparsed (`wire.head` reads only its id, so a refused push is still
acknowledged). The one frame the reader never sees is one past the receive
ceiling (`wire.checks.receive_ceiling`, the channel's
`grpc.max_receive_message_length`): gRPC refuses it and ends the call with
RESOURCE_EXHAUSTED (a stream cannot skip one message). The reader reports it
as a `too_large` refusal, then the call's end as usual; the actor reconnects
with backoff.

Every event (`Received`, `Malformed`, `Closed`: see inbox.py) carries the
connection's generation; the actor ignores events of a connection it has
already replaced.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from actors.stream.acks import advertises_push_acks
from actors.stream.inbox import (
    CapabilitiesAnswered,
    Closed,
    Inbox,
    InboxEvent,
    Malformed,
    Received,
)
from actors.stream.wire.checks import Refusal, receive_ceiling, text
from actors.stream.wire.decode import decode_frame
from actors.stream.wire.events import HeartbeatAcked
from actors.stream.wire.head import frame_head
from nodeconfig.model import GovernanceLimitsConfig
from protocol import governance_pb2
from protocol.errors import MalformedFrame

STREAM_METHOD = "/governance.v1.GovernanceStream/Stream"
CAPABILITIES_METHOD = "/governance.v1.GovernanceStream/GetCapabilities"
# The StreamResponse payloads governance pushes: a refused one is still acknowledged.
PUSH_PAYLOADS = frozenset({"federation_update", "proposal_notification"})
# How grpc core words the status when max_receive_message_length refuses a message:
# "Received message larger than max (2097152 vs. 1048576)" (grpcio 1.85).
_FRAME_REFUSED = "larger than max"


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
    limits: GovernanceLimitsConfig = field(default_factory=GovernanceLimitsConfig)

    def __repr__(self) -> str:
        # The token must not leak through a log line that prints the settings.
        token = "<set>" if self.token else None
        return (f"ConnectionSettings(endpoint={self.endpoint!r}, tls={self.tls_enabled}, "
                f"client_cert={self.cert_file is not None}, token={token})")


def _read_optional(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


class GovernanceConnection:
    def __init__(self, settings: ConnectionSettings, generation: int,
                 inbox: Inbox[InboxEvent]) -> None:
        self.settings = settings
        self.generation = generation
        self._inbox = inbox
        # None ends the request iterator, and with it the call's sending side.
        self._outbound: queue.Queue[governance_pb2.StreamRequest | None] = queue.Queue()
        self._closing = threading.Event()
        self._channel: grpc.Channel | None = None
        self._call: grpc.Call | None = None
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
            # A frame over the cap reaches the reader, which refuses it unparsed and
            # acknowledges it if it is a push (else governance would push it again on
            # every session and end each one). Past this ceiling gRPC refuses it and
            # ends the call: nothing can skip one message of a stream.
            ("grpc.max_receive_message_length", receive_ceiling(settings.limits)),
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
        stream: grpc.StreamStreamMultiCallable[governance_pb2.StreamRequest, bytes]
        stream = self._channel.stream_stream(
            STREAM_METHOD,
            request_serializer=governance_pb2.StreamRequest.SerializeToString,
            response_deserializer=None,
        )
        metadata = (("authorization", f"Bearer {settings.token}"),) if settings.token else ()
        frames = stream(self._requests(), metadata=metadata)
        self._call = frames
        threading.Thread(target=self._read, args=(frames,),
                         name=f"governance-reader-{self.generation}", daemon=True).start()

    def ask_capabilities(self, node_id: str, timeout_s: float) -> None:
        """Call `GetCapabilities` on this connection's channel, without waiting: the answer
        reaches the actor as a `CapabilitiesAnswered` event, whatever happens (a server
        without the RPC answers UNIMPLEMENTED; one that never answers meets the deadline)."""
        assert self._channel is not None  # asked right after `open`
        call = self._channel.unary_unary(
            CAPABILITIES_METHOD,
            request_serializer=governance_pb2.CapabilitiesRequest.SerializeToString,
            response_deserializer=governance_pb2.CapabilitiesResponse.FromString,
        )
        token = self.settings.token
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        future = call.future(governance_pb2.CapabilitiesRequest(node_id=node_id),
                             timeout=timeout_s, metadata=metadata)
        future.add_done_callback(self._capabilities_answered)

    def _capabilities_answered(self, future: grpc.Future[governance_pb2.CapabilitiesResponse],
                               ) -> None:
        # On a gRPC thread: only the inbox is touched.
        try:
            response = future.result()
        except grpc.RpcError as exc:
            code = exc.code()
            details = text(exc.details() or "")
            name = code.name if code else "UNKNOWN"
            self._deliver(CapabilitiesAnswered(self.generation, False, f"{name} {details}"))
        except Exception as exc:  # cancelled by close(), or a bug: the feature is absent
            self._deliver(CapabilitiesAnswered(self.generation, False, repr(exc)))
        else:
            self._deliver(CapabilitiesAnswered(
                self.generation, advertises_push_acks(response.features)))

    def send(self, request: governance_pb2.StreamRequest) -> None:
        self._outbound.put(request)

    def close(self) -> None:
        """End the call and the channel; the reader's last event is then ignored."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._outbound.put(None)
        if self._call is not None:
            self._call.cancel()
        if self._channel is not None:
            self._channel.close()

    # -- threads -------------------------------------------------------------------

    def _requests(self) -> Iterator[governance_pb2.StreamRequest]:
        while True:
            item = self._outbound.get()
            if item is None:
                return
            yield item

    def _read(self, frames: Iterable[bytes]) -> None:
        limits = self.settings.limits
        try:
            for frame in frames:
                self.last_frame_at = time.monotonic()
                inbound = decode_frame(frame, limits)  # total: an event or a refusal
                if isinstance(inbound, MalformedFrame):
                    if not self._deliver(Malformed(self.generation, str(inbound),
                                                   inbound.kind, _push_id(inbound, frame))):
                        return
                    continue
                if not self._deliver(Received(self.generation, inbound), len(frame),
                                     urgent=isinstance(inbound, HeartbeatAcked)):
                    return
            self._deliver(Closed(self.generation, "OK", "governance ended the stream"))
        except grpc.RpcError as exc:
            code = exc.code()
            # The status text may be governance's own: bounded and escaped like any.
            details = text(exc.details() or "")
            if code is grpc.StatusCode.RESOURCE_EXHAUSTED and _FRAME_REFUSED in details:
                self._deliver(Malformed(
                    self.generation,
                    f"a frame past the receive ceiling ({receive_ceiling(limits)} bytes)"
                    f" was refused by gRPC, which ends the call: {details}",
                    Refusal.TOO_LARGE))
            self._deliver(Closed(self.generation, code.name if code else "UNKNOWN", details))
        except Exception as exc:  # a bug here must not die silently in a thread
            self._deliver(Closed(self.generation, "INTERNAL", f"reader failed: {exc!r}"))

    def _deliver(self, event: InboxEvent, size: int = 0, urgent: bool = False) -> bool:
        """Hand an event (of a `size`-byte frame) to the actor, waiting while its inbox is
        full; False once closing."""
        put = self._inbox.put_urgent if urgent else self._inbox.put
        while not self._closing.is_set():
            try:
                put(event, timeout_s=0.5, size=size)
                return True
            except queue.Full:
                continue
        return False


def _push_id(refused: MalformedFrame, frame: bytes) -> str | None:
    """The id to acknowledge if the refused frame is a push whose id could be read.

    Only a frame with a valid id is parsed again, to see its payload: refusals are
    rare, and a frame that does not parse at all has no id to acknowledge."""
    if refused.request_id is None:
        return None
    _, payload = frame_head(frame)  # the head only: the frame may be over the cap
    return refused.request_id if payload in PUSH_PAYLOADS else None
