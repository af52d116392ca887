"""POST /hostile on a MockState in this process: the frames built, and the refusals' words.

No gRPC and no processes: what reaches the stream is read off the session's
queue, where the servicer's writer would take it.
"""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError

from mock_governance.errors import InvalidRequestBody, NothingToTarget
from mock_governance.routes import ControlRequest, resolve
from mock_governance.sessions import StreamSession
from mock_governance.state import MockState
from protocol import governance_pb2 as pb


def mock_with_a_request(kind: str = "signature_request") -> tuple[MockState, StreamSession]:
    state = MockState("hostile-tests", max_streams=4)
    session = state.sessions.open("peer", 0.0)
    session.identify("n1")
    request = pb.StreamRequest(metadata=pb.RequestMetadata(request_id="po/1", node_id="n1"))
    getattr(request, kind).SetInParent()
    state.recorder.record(request)
    return state, session


def hostile(state: MockState, **body: object) -> dict[str, object]:
    return resolve("POST", "/hostile")(state, ControlRequest(body=body))


def queued(session: StreamSession) -> list[object]:
    items: list[object] = []
    while not session._outbound.empty():
        items.append(session.next_outbound())
    return items


def test_answers_are_aimed_at_the_latest_recorded_request_of_their_kind() -> None:
    state, session = mock_with_a_request()
    assert hostile(state, frame="ack_for_pegout")["request_ids"] == ["po/1"]
    assert hostile(state, frame="retry_after_max")["frames"] == 1
    ack, error = queued(session)
    assert isinstance(ack, pb.StreamResponse) and ack.WhichOneof("payload") is None
    assert isinstance(error, pb.StreamResponse)
    assert error.error_response.retry_info.retry_after == 2**31 - 1


def test_absurd_pushes_and_garbage_are_built_as_asked() -> None:
    state, session = mock_with_a_request()
    hostile(state, frame="huge_version")
    hostile(state, frame="threshold_max", version=7)
    hostile(state, frame="garbage", size_bytes=300, seed=3)
    huge, threshold, garbage = queued(session)
    assert isinstance(huge, pb.StreamResponse) and isinstance(threshold, pb.StreamResponse)
    assert huge.federation_update.config.parameters["version"] == "9" * 5000
    assert threshold.federation_update.config.signature_threshold == 2**32 - 1
    assert threshold.federation_update.config.parameters["version"] == "7"
    assert isinstance(garbage, bytes) and len(garbage) == 300
    with pytest.raises(DecodeError):
        pb.StreamResponse.FromString(garbage)


def test_refusals_say_what_to_fix() -> None:
    state, _ = mock_with_a_request("pegin_notification")
    with pytest.raises(NothingToTarget, match="give 'request_id'"):
        hostile(state, frame="ack_for_pegout")
    with pytest.raises(InvalidRequestBody, match="'frame' must be one of"):
        hostile(state, frame="nonsense")
    with pytest.raises(InvalidRequestBody, match="takes no 'version'"):
        hostile(state, frame="garbage", version=3)
    with pytest.raises(InvalidRequestBody, match="'size_bytes' must be an integer"):
        hostile(state, frame="oversized_push")
    assert hostile(state, frame="signature_for_pegin")["request_ids"] == ["po/1"]
