"""The governance connection's life: open, register, lose, and open again.

`Connector` decides when and where the StreamActor connects: it asks the
circuit breaker whether a try is allowed, picks the endpoint, opens a
`GovernanceConnection`, asks for governance's capabilities when push
acknowledgements depend on them, registers, and, once the connection is
lost, chooses between failing over at once, backing off and waiting out an
open circuit.

It owns the policies behind those choices (backoff, breaker, endpoint
rotation) and what they remember about past sessions (when the current one
came up, the last error, how many working sessions were lost). The current
connection, its generation, the state machine and the timers stay on the
actor, which every part reaches through a `Session`: those are read on each
frame and each write, so they stay one attribute away.
"""

from __future__ import annotations

import logging
import math
import random
import time
from typing import TYPE_CHECKING, Protocol

from actors.stream import metrics
from actors.stream.acks import PUSH_ACK_FEATURE, PushAcks
from actors.stream.backoff import ReconnectPolicy, ReconnectSchedule
from actors.stream.breaker import CircuitBreaker, CircuitState
from actors.stream.credentials import Credentials
from actors.stream.endpoints import Endpoint, EndpointRotation
from actors.stream.inbox import Inbox, InboxEvent
from actors.stream.liveness import Liveness
from actors.stream.outbound import OutboundRequests
from actors.stream.state import ConnectionState as State
from actors.stream.wire import encode
from actors.stream.wire.events import RegistrationAck
from protocol import governance_pb2 as pb

if TYPE_CHECKING:
    from actors.stream.connection import GovernanceConnection
    from nodeconfig import GovernanceConfig

NODE_VERSION = "alys-node/0.1"
CAPABILITIES = ("signatures", "pegin", "federation_updates", "proposals")
# The longest wait for GetCapabilities before registering without it (convention 8).
CAPABILITIES_TIMEOUT_S = 5.0


class Session(Protocol):
    """The StreamActor as the connector sees it."""

    generation: int  # bumped for each new connection and each lost one
    connection: GovernanceConnection | None

    @property
    def state(self) -> State: ...

    def move(self, target: State, reason: str) -> None:
        """Change the connection's state (logged and exported)."""

    def schedule(self, kind: str, delay_s: float) -> None:
        """A timer of the current connection (`reconnect`, `capabilities`, ...)."""

    def write(self, request: pb.StreamRequest, kind: str) -> None:
        """Put one request on the current connection's stream."""


class Connector:
    def __init__(
        self,
        session: Session,
        *,
        governance: GovernanceConfig,
        node_id: str,
        inbox: Inbox[InboxEvent],
        outbound: OutboundRequests,
        liveness: Liveness,
        acks: PushAcks,
        credentials: Credentials,
        log: logging.Logger,
    ) -> None:
        self._session = session
        self.credentials = credentials
        self._governance = governance
        self._node_id = node_id
        self._inbox = inbox
        self._outbound = outbound
        self._liveness = liveness
        self._acks = acks
        self._log = log
        self.rng = random.Random()
        self.backoff = ReconnectSchedule(ReconnectPolicy.from_config(governance.reconnect))
        breaker = governance.circuit_breaker
        self.breaker = CircuitBreaker(breaker.failure_threshold, breaker.reset_timeout_s,
                                      time.monotonic)
        self.endpoints = EndpointRotation(
            [Endpoint(e.url, e.priority) for e in governance.endpoints])
        self.connected_since: float | None = None
        self.reconnects = 0
        self.last_error: str | None = None  # why the last connection failed; None once up

    def connect(self) -> None:
        """Open a connection to the current endpoint and register, unless the circuit is open."""
        session = self._session
        if not self.breaker.allow():
            self.export_circuit()
            if session.state is not State.FAILED:
                session.move(State.FAILED, "circuit open")
            wait_s = self.breaker.seconds_until_trial()
            if math.isfinite(wait_s):  # infinite while a half-open trial is still in flight
                session.schedule("reconnect", max(wait_s, 0.01))
            return
        self.export_circuit()
        from actors.stream.connection import ConnectionSettings, GovernanceConnection

        governance = self._governance
        endpoint = self.endpoints.current
        token = self.credentials.begin()
        settings = ConnectionSettings(
            endpoint=endpoint.url, tls_enabled=governance.tls.enabled,
            ca_file=governance.tls.ca_file, cert_file=governance.tls.cert_file,
            key_file=governance.tls.key_file, token=token,
            keepalive_time_s=governance.heartbeat_interval_s,
            keepalive_timeout_s=governance.heartbeat_timeout_s, limits=governance.limits)
        session.generation += 1
        session.move(State.CONNECTING,
                     f"endpoint={endpoint.url} attempt={self.backoff.attempt + 1}")
        connection = GovernanceConnection(settings, session.generation, self._inbox)
        session.connection = connection
        try:
            connection.open()
        except (OSError, ValueError) as exc:  # e.g. an unreadable certificate file
            self._log.error("cannot open a channel to %s: %s", endpoint.url, exc)
            self.lost(f"cannot open a channel: {exc}")
            return
        if self._acks.needs_capabilities:
            # Asked first, so the registration can say whether this node acknowledges
            # pushes, and no acknowledgement reaches a governance that did not ask for it.
            # One round trip per connect; the stream call is already open meanwhile.
            timeout_s = min(governance.heartbeat_timeout_s, CAPABILITIES_TIMEOUT_S)
            connection.ask_capabilities(self._node_id, timeout_s)
            session.schedule("capabilities", timeout_s + 1.0)  # in case no answer ever comes
            return
        self._register()

    def capabilities_known(self, advertised: bool, error: str | None) -> None:
        if self._session.state is not State.CONNECTING:
            return  # the connection was lost meanwhile, or the fallback timer came first
        if self._acks.advertised is not advertised:
            self._log.info("governance at %s %s push acknowledgements",
                           self.endpoints.current.url,
                           "asks for" if advertised else "does not ask for")
        self._acks.advertised = advertised
        self._outbound.acks_wanted = self._acks.wanted
        self._register()

    def _register(self) -> None:
        session = self._session
        capabilities = CAPABILITIES + ((PUSH_ACK_FEATURE,) if self._acks.wanted else ())
        now = int(time.time())  # also the timestamp a signature registration signs (conv. 9)
        credentials = self.credentials
        session.write(encode.registration(
            self._node_id, public_key=credentials.public_key_hex, version=NODE_VERSION,
            capabilities=capabilities, token=None, now=now,
            request_id=f"register/{session.generation}",
            auth=credentials.registration_auth(self._node_id, now)), "registration")
        session.move(State.REGISTERING, "registration sent")
        session.schedule("registration", self._governance.heartbeat_timeout_s)

    def registered(self, ack: RegistrationAck | None = None) -> None:
        session = self._session
        grant = None if ack is None else self.credentials.granted(
            ack.session_token, ack.expires_at, ack.timestamp, int(time.time()))
        self.breaker.record_success()
        self.export_circuit()
        # The backoff is reset only once the session has proved stable (`lost`): a
        # governance that ends every session at once (an oversized frame each time) must
        # meet a growing backoff, not a reconnect a second forever.
        self.last_error = None
        self.connected_since = time.time()
        session.move(State.CONNECTED, f"registered at {self.endpoints.current.url}")
        self._liveness.start()
        session.schedule("heartbeat", self._governance.heartbeat_interval_s)
        session.schedule("status", self._governance.status_interval_s)
        if grant is not None:
            # Renewed by registering again before it expires, on a fresh connection.
            session.schedule("renew", grant.renew_in_s)
        self._outbound.resend_pending()
        self._outbound.flush()

    def lost(self, reason: str, auth_refused: bool = False) -> None:
        """The connection is gone or unusable: close it and schedule the next attempt.

        `auth_refused`: governance refused what this connection presented; a session
        token is then dropped, and the next connection presents the configured one."""
        session = self._session
        if auth_refused and self.credentials.refused():
            reason = f"{reason}; session token dropped"
        was_up = session.state in (State.CONNECTED, State.SUSPENDED)
        # A session that outlived one heartbeat timeout was a working one: the backoff
        # starts afresh after it; a shorter one counts as one more failed attempt.
        stable_s = self._governance.heartbeat_timeout_s
        if was_up and self.connected_since is not None and (
                time.time() - self.connected_since >= stable_s):
            self.backoff.reset()
        self.last_error = reason
        self._end_connection(was_up)
        if not was_up:
            self.breaker.record_failure()  # it never got as far as a working session
        self.export_circuit()
        session.generation += 1  # everything of the old connection is stale from here
        if was_up:
            # A working session ended: back off, then start again from the preferred endpoint.
            self.endpoints.restart_round()
            delay = self.backoff.next(self.rng)
        else:
            # Fail over to the next endpoint at once; back off only after a whole round.
            new_round = self.endpoints.fail_over() or len(self.endpoints) == 1
            delay = self.backoff.next(self.rng) if new_round else 0.0
        if self.breaker.state is CircuitState.OPEN:
            session.move(State.FAILED, f"{reason}; circuit open")
            session.schedule("reconnect", self.breaker.seconds_until_trial())
            return
        if self.backoff.exhausted and delay:
            # Never parked: past max_attempts it keeps trying, at the longest backoff, and
            # says so (status, /readyz) until governance is back.
            attempts = self._governance.reconnect.max_attempts
            session.move(State.FAILED, f"{reason}; reconnect attempts exhausted "
                         f"(max_attempts={attempts}), still trying: next in {delay:.2f}s")
        else:
            session.move(State.RECONNECTING, f"{reason}; next attempt in {delay:.2f}s")
        session.schedule("reconnect", delay)

    def renew(self, reason: str) -> None:
        """Reconnect at once, without counting a failure: to present a new credential
        (a rotated file) or to renew the session before its token expires.

        Requests still unanswered go again on the new session (`registered`)."""
        session = self._session
        if session.connection is None or session.state not in (
                State.CONNECTING, State.REGISTERING, State.CONNECTED, State.SUSPENDED):
            return  # no connection: the next one presents the current credential anyway
        self._end_connection(session.state in (State.CONNECTED, State.SUSPENDED))
        session.generation += 1
        session.move(State.RECONNECTING, f"{reason}; reconnecting now")
        session.schedule("reconnect", 0)

    def _end_connection(self, was_up: bool) -> None:
        """Close the current connection, if any; the end of a working session counts as a
        reconnect (a lost one and a renewed one alike)."""
        session = self._session
        if session.connection is not None:
            session.connection.close()
            session.connection = None
        self.connected_since = None
        if was_up:
            self.reconnects += 1
            metrics.RECONNECTS.inc()

    def export_circuit(self) -> None:
        for change in self.breaker.drain_transitions():
            metrics.CIRCUIT.labels(state=change.target.value).inc()
            metrics.CIRCUIT_STATE.labels(state=change.source.value).set(0)
            metrics.CIRCUIT_STATE.labels(state=change.target.value).set(1)
            self._log.warning("circuit %s -> %s", change.source.value, change.target.value)
