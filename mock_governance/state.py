"""Everything the gRPC side and the control side share, behind one object."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable

from mock_governance import auth, handlers
from mock_governance.federation import SigningFederation, governance_key, signing_federation
from mock_governance.flags import FlagBoard
from mock_governance.holds import HeldAnswers
from mock_governance.pushes import PushLedger
from mock_governance.record import Recorder
from mock_governance.sessions import SessionRegistry, StreamSession
from mock_governance.stats import Stats, request_kind
from protocol import governance_pb2 as pb

# What `hold_signatures` keeps back: every answer to a signature request, errors included.
HELD_KINDS = frozenset({"signature_request"})


def _new_session_token() -> str:
    return secrets.token_hex(16)


class MockState:
    def __init__(
        self,
        federation_seed: str,
        max_streams: int,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = _new_session_token,
        federation_size: int = 5,
        federation_threshold: int = 3,
        federation_script_type: str = "p2wsh",
        auth_policy: auth.AuthPolicy | None = None,
    ) -> None:
        self.federation_seed = federation_seed
        # Replaced whole by POST /federation; a reader thread uses whichever it read.
        self.signing: SigningFederation = signing_federation(
            federation_seed, range(federation_size), federation_threshold,
            federation_script_type,
        )
        self.governance_key = governance_key(federation_seed)
        self.held = HeldAnswers()
        self._update_numbers = itertools.count(1)
        self.max_streams = max_streams
        self.clock = clock
        self.new_token = new_token
        self.started_at = clock()
        self.recorder = Recorder()
        self.stats = Stats()
        self.pushes = PushLedger()  # convention 8: acknowledgements and re-sending
        self.sessions = SessionRegistry(on_queued=self.pushes.queued)
        self.flags = FlagBoard()
        self.stopping = threading.Event()
        # Replaced whole by POST /auth; a thread uses whichever it read.
        self.auth_policy = auth_policy or auth.AuthPolicy()
        self.auth_sessions = auth.SessionBook()

    def stream_refusal(self, metadata: list[tuple[str, str | bytes]]) -> str | None:
        """Why a Stream call is refused before it opens (UNAUTHENTICATED), or None."""
        now = int(self.clock())
        presented = auth.presented_bearer(metadata)
        if presented is not None and self.auth_sessions.live(presented, now):
            return None  # a session token the mock granted
        if not auth.bearer_matches(metadata, self.flags.current.require_token):
            return "call metadata needs `authorization: Bearer <token>` with the right token"
        return auth.stream_refusal(self.auth_policy, self.auth_sessions, metadata, now)

    def registration_refusal(self, request: pb.StreamRequest) -> str | None:
        return auth.registration_refusal(self.auth_policy, self.auth_sessions, request,
                                         int(self.clock()))

    def grant_session(self, node_id: str) -> tuple[str, int | None]:
        """A new session token for `node_id`, with its expires_at when sessions expire."""
        token = self.new_token()
        ttl_s = self.auth_policy.session_ttl_s
        expires_at = None if ttl_s is None else int(self.clock()) + ttl_s
        self.auth_sessions.grant(token, node_id, expires_at)
        return token, expires_at

    def expire_sessions(self, node_id: str | None) -> dict[str, int]:
        """Forget the session tokens of `node_id` (all: None) and end their streams with
        UNAUTHENTICATED, as a governance whose sessions expired would."""
        expired = self.auth_sessions.expire(node_id)
        streams = self.sessions.sessions(node_id)
        for session in streams:
            session.drop("session expired", code="UNAUTHENTICATED")
        self.flags.wake()
        return {"expired": expired, "streams_ended": len(streams)}

    def receive(self, session: StreamSession, request: pb.StreamRequest) -> None:
        """Record ``request``, then queue its answers on the session it came in on.

        Recording first means that once a client sees an answer, GET /record
        already shows the request.
        """
        session.identify(request.metadata.node_id)
        self.recorder.record(request)
        kind = request_kind(request)
        self.stats.received(request.metadata.node_id, kind)
        if request.WhichOneof("payload") is None:
            # Only metadata: a push acknowledged (convention 8). Nothing answers it.
            self.pushes.acknowledged(request.metadata.node_id, request.metadata.request_id)
            return
        ctx = handlers.ReplyContext(
            flags=self.flags.current,
            now_s=int(self.clock()),
            new_token=self.new_token,
            signing=self.signing,
            auth_refusal=self.registration_refusal,
            grant_session=self.grant_session,
            take_error=self.flags.take_error,
            take_signature_fault=self.flags.take_signature_fault,
        )
        for early in handlers.preamble(request, ctx):
            session.send(early)  # ahead of the answer, held or not
        responses = handlers.answer(request, ctx)
        if responses and ctx.flags.hold_signatures and request_kind(request) in HELD_KINDS:
            self.held.hold(session, responses)
            return
        if kind == "node_registration" and responses and responses[0].registration_ack.accepted:
            # Unacknowledged pushes go again right behind the ack, so the node takes them on
            # its registered session, and before any newer push, so it sees them in order.
            capabilities = list(request.node_registration.capabilities)
            with session.in_order():
                for response in responses:
                    session.send(response)
                for push in self.pushes.registered(session.node_id, capabilities):
                    session.send(push)
            return
        for response in responses:
            session.send(response)

    def next_update_id(self, version: int) -> str:
        """A fresh request id for a pushed federation update: pushes are never duplicates."""
        return f"federation-update-v{version}-{next(self._update_numbers)}"

    def drop_streams(self, details: str) -> int:
        dropped = self.sessions.drop_all(details)
        self.flags.wake()  # writers held by `stall` must notice the drop
        return dropped

    def drop_stream(self, session: StreamSession, details: str) -> None:
        session.drop(details)
        self.flags.wake()

    def end_stream(self, session: StreamSession) -> None:
        self.sessions.close(session)
        self.flags.wake()  # a reader or writer held by `stall` can give up now

    def end_all_streams(self) -> int:
        """Shutting down: end every stream with OK, even those held by `stall`."""
        self.stopping.set()
        ended = self.sessions.end_all()
        self.flags.wake()
        return ended

    def wait_for_flow(self, session: StreamSession) -> bool:
        """Hold a stream's traffic while stalled; False if the stream should stop instead."""
        return self.flags.wait_while_stalled(lambda: session.interrupted or self.stopping.is_set())

    def uptime_s(self) -> int:
        return int(self.clock() - self.started_at)

    def health(self) -> pb.HealthResponse:
        return handlers.health(self.uptime_s(), len(self.sessions.sessions()))

    def capabilities(self) -> pb.CapabilitiesResponse:
        response = handlers.capabilities(self.max_streams)
        features = self.pushes.capabilities(list(response.features))
        del response.features[:]
        response.features.extend(features)
        return response
