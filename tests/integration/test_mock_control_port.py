"""The mock's control port takes requests from local tools only: JSON bodies, no Origin,
a loopback Host. A page in a browser can make none of the requests it accepts."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from harness.mock import MockGovernance, start_mock_governance

pytestmark = pytest.mark.timeout(60)

SILENT = json.dumps({"silent": True}).encode()


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockGovernance]:
    server = start_mock_governance(tmp_path_factory.mktemp("control") / "mock")
    yield server
    server.stop()


def send(mock: MockGovernance, method: str, path: str, body: bytes | None,
         headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", mock.control_port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def silent(mock: MockGovernance) -> object:
    return mock.get("/behaviour").body["behaviour"]["silent"]


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
])
def test_a_post_whose_body_is_not_declared_json_is_refused_with_415(
    mock: MockGovernance, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    status, reply = send(mock, "POST", "/behaviour", SILENT, headers)
    assert status == 415
    assert "Content-Type: application/json" in str(reply["error"])
    assert silent(mock) is False


@pytest.mark.parametrize("method,body", [("POST", SILENT), ("GET", None)])
def test_a_request_with_an_origin_header_is_refused_with_403(
    mock: MockGovernance, method: str, body: bytes | None
) -> None:
    headers = {"Content-Type": "application/json", "Origin": "https://evil.example"}
    status, reply = send(mock, method, "/behaviour", body, headers)
    assert status == 403
    assert "Origin" in str(reply["error"])
    assert silent(mock) is False


def test_a_request_for_a_foreign_host_name_is_refused_with_403(mock: MockGovernance) -> None:
    # What a page on a DNS name rebound to 127.0.0.1 sends.
    headers = {"Content-Type": "application/json", "Host": "evil.example"}
    status, reply = send(mock, "POST", "/behaviour", SILENT, headers)
    assert status == 403 and "Host" in str(reply["error"])
    assert silent(mock) is False


def test_a_json_post_from_a_local_tool_is_accepted(mock: MockGovernance) -> None:
    for host in ("127.0.0.1", "localhost"):
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Host": f"{host}:{mock.control_port}"}
        assert send(mock, "POST", "/behaviour", SILENT, headers)[0] == 200
        assert silent(mock) is True
        assert mock.behave(silent=False) == {"silent": False}
