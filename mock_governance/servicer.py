"""The GovernanceStream servicer: thin glue between grpcio and MockState.

Each Stream call gets a session with an outbound queue. A reader thread
takes requests off the call and hands them to MockState (record, answer);
the handler thread, grpcio's own, writes whatever reaches the queue. The two
never touch the call at the same time from the same side, which is all
grpcio's sync API asks.

The Stream's response serializer passes ``bytes`` through unchanged, so the
control interface can push frames that are not a valid StreamResponse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from mock_governance.sessions import CloseStream, DropStream, StreamSession
from mock_governance.state import MockState
from mock_governance.stats import response_kind
from protocol import governance_pb2 as pb
from protocol import governance_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)

SERVICE = pb.DESCRIPTOR.services_by_name["GovernanceStream"].full_name


class MockGovernanceServicer(pb_grpc.GovernanceStreamServicer):
    def __init__(self, state: MockState) -> None:
        self._state = state

    def Stream(
        self, request_iterator: Iterator[pb.StreamRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamResponse | bytes]:
        if self._state.stopping.is_set():
            # end_all_streams() already ran: a stream opened now would never be ended.
            context.abort(grpc.StatusCode.UNAVAILABLE, "mock governance is shutting down")
        refusal = self._state.stream_refusal(list(context.invocation_metadata()))
        if refusal is not None:
            self._state.stats.stream_refused()
            logger.info("stream from %s refused: %s", context.peer(), refusal)
            context.abort(grpc.StatusCode.UNAUTHENTICATED, refusal)
        session = self._state.sessions.open(context.peer(), self._state.clock())
        logger.info("stream %d opened from %s", session.stream_id, session.peer)
        if not context.add_callback(lambda: self._ended(session)):
            self._ended(session)  # the call ended before we could watch it
            return
        threading.Thread(
            target=self._read,
            args=(request_iterator, session),
            name=f"mock-stream-{session.stream_id}-reader",
            daemon=True,
        ).start()
        yield from self._write(session, context)

    def Health(self, request: pb.HealthRequest, context: grpc.ServicerContext) -> pb.HealthResponse:
        return self._state.health()

    def GetCapabilities(
        self, request: pb.CapabilitiesRequest, context: grpc.ServicerContext
    ) -> pb.CapabilitiesResponse:
        return self._state.capabilities()

    def _ended(self, session: StreamSession) -> None:
        self._state.end_stream(session)
        logger.info("stream %d (node %r) ended", session.stream_id, session.node_id)

    def _read(self, requests: Iterator[pb.StreamRequest], session: StreamSession) -> None:
        try:
            for request in requests:
                # A request that arrives while stalled is held, not read: it is
                # recorded and answered only once the stall is lifted.
                if not self._state.wait_for_flow(session):
                    return
                self._state.receive(session, request)
        except grpc.RpcError:
            return  # the call was cancelled or dropped under us
        except Exception:
            logger.exception("stream %d: reader failed", session.stream_id)
            self._state.drop_stream(session, "mock governance internal error")
            return
        # The client half-closed: end the call once the answers queued so far are out.
        session.send(CloseStream())

    def _write(
        self, session: StreamSession, context: grpc.ServicerContext
    ) -> Iterator[pb.StreamResponse | bytes]:
        while True:
            item = session.next_outbound()
            if isinstance(item, CloseStream):
                return
            if isinstance(item, DropStream):
                context.abort(grpc.StatusCode[item.code], item.details)
            if not self._state.wait_for_flow(session):
                # Held by `stall` until the stream was dropped, closed or the
                # server began stopping; what is still queued is never sent.
                dropped = session.pending_drop
                if dropped is not None:
                    context.abort(grpc.StatusCode[dropped.code], dropped.details)
                return
            self._state.stats.sent(session.node_id, response_kind(item))
            yield item


def _serialize_response(response: pb.StreamResponse | bytes) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


def add_to_server(servicer: MockGovernanceServicer, server: grpc.Server) -> None:
    """As the generated add_GovernanceStreamServicer_to_server, but raw bytes may be sent."""
    # Each method has its own request and response types; grpc takes them as Any.
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Stream": grpc.stream_stream_rpc_method_handler(
            servicer.Stream,
            request_deserializer=pb.StreamRequest.FromString,
            response_serializer=_serialize_response,
        ),
        "Health": grpc.unary_unary_rpc_method_handler(
            servicer.Health,
            request_deserializer=pb.HealthRequest.FromString,
            response_serializer=pb.HealthResponse.SerializeToString,
        ),
        "GetCapabilities": grpc.unary_unary_rpc_method_handler(
            servicer.GetCapabilities,
            request_deserializer=pb.CapabilitiesRequest.FromString,
            response_serializer=pb.CapabilitiesResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
