"""The JSON-RPC 1.0 client for Bitcoin Core: single calls, batches, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors.bridge.broadcast_errors import BroadcastUnavailable
from actors.bridge.core import CoreRpc, Fault, Reply
from tests.support.jsonrpc import JsonRpcServer, RawReply, RpcFault

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD = "alys", "s3cret-Pa55"


@pytest.fixture
def bitcoind() -> Iterator[JsonRpcServer]:
    with JsonRpcServer(auth=(USER, PASSWORD)) as server:
        server.handle("getblockcount", lambda params: 812)
        server.handle("echo", lambda params: params)
        yield server


def client(server: JsonRpcServer, password: str = PASSWORD) -> CoreRpc:
    return CoreRpc(server.url, USER, password, timeout_s=5.0)


def test_a_call_sends_a_json_rpc_1_0_request_and_returns_the_result(
        bitcoind: JsonRpcServer) -> None:
    assert client(bitcoind).call("echo", ["a", 1]) == Reply(result=["a", 1])
    [request] = bitcoind.requests
    assert request.body["jsonrpc"] == "1.0" and request.params == ["a", 1]


def test_an_rpc_error_in_an_http_500_is_read_as_the_answer(bitcoind: JsonRpcServer) -> None:
    def refuse(params: Any) -> None:
        raise RpcFault(-5, "No such mempool or blockchain transaction")

    bitcoind.handle("getrawtransaction", refuse)
    reply = client(bitcoind).call("getrawtransaction", ["ab" * 32, True])
    assert reply == Reply(fault=Fault(-5, "No such mempool or blockchain transaction"))


def test_an_unknown_method_is_a_fault_not_an_outage(bitcoind: JsonRpcServer) -> None:
    assert client(bitcoind).call("getindexinfo").fault == Fault(-32601, "Method not found")


def test_an_error_status_without_a_fault_is_unavailable(bitcoind: JsonRpcServer) -> None:
    def teapot(params: Any) -> None:
        raise RawReply(503, b'{"result": 1, "error": null, "id": 1}')

    bitcoind.handle("getblockcount", teapot)
    with pytest.raises(BroadcastUnavailable, match=r"HTTP 503$"):
        client(bitcoind).call("getblockcount")


def test_a_body_that_is_no_json_rpc_reply_is_unavailable(bitcoind: JsonRpcServer) -> None:
    def html(params: Any) -> None:
        raise RawReply(502, b"<html>bad gateway</html>")

    bitcoind.handle("getblockcount", html)
    with pytest.raises(BroadcastUnavailable, match="HTTP 502 without a JSON-RPC reply"):
        client(bitcoind).call("getblockcount")


def test_a_malformed_error_is_unavailable(bitcoind: JsonRpcServer) -> None:
    def odd(params: Any) -> None:
        raise RawReply(500, b'{"result": null, "error": "no", "id": 1}')

    bitcoind.handle("getblockcount", odd)
    with pytest.raises(BroadcastUnavailable, match="malformed error 'no'"):
        client(bitcoind).call("getblockcount")


def test_a_batch_is_one_http_request_answered_call_by_call(bitcoind: JsonRpcServer) -> None:
    def refuse(params: Any) -> None:
        raise RpcFault(-5, "not found")

    bitcoind.handle("getrawtransaction", refuse)
    replies = client(bitcoind).call_many(
        [("getblockcount", []), ("getrawtransaction", ["ab" * 32, True]), ("echo", [7])])
    assert replies == [Reply(result=812), Reply(fault=Fault(-5, "not found")),
                       Reply(result=[7])]
    requests = bitcoind.requests
    assert [r.method for r in requests] == ["getblockcount", "getrawtransaction", "echo"]
    assert len({r.post for r in requests}) == 1
    assert len({r.body["id"] for r in requests}) == 3


def test_batch_answers_in_another_order_are_matched_by_id(bitcoind: JsonRpcServer) -> None:
    bitcoind.reshape_batches(lambda replies: list(reversed(replies)))
    replies = client(bitcoind).call_many([("echo", [1]), ("echo", [2]), ("echo", [3])])
    assert [reply.result for reply in replies] == [[1], [2], [3]]


def test_an_empty_batch_asks_nothing(bitcoind: JsonRpcServer) -> None:
    assert client(bitcoind).call_many([]) == []
    assert bitcoind.requests == []


def _drop_ids(replies: list[Any]) -> list[Any]:
    return [{key: value for key, value in reply.items() if key != "id"} for reply in replies]


def _repeat_first_id(replies: list[Any]) -> list[Any]:
    return [replies[0], {**replies[1], "id": replies[0]["id"]}]


@pytest.mark.parametrize(("shape", "problem"), [
    (lambda replies: {"result": replies, "error": None, "id": 1},
     "HTTP 200: the reply to a batch of 2 calls is not a JSON array"),
    (lambda replies: replies[:1], "1 answers to a batch of 2 calls"),
    (lambda replies: [*replies, replies[0]], "3 answers to a batch of 2 calls"),
    (_drop_ids, "a batch answer has id None, which is no call's"),
    (lambda replies: [replies[0], {**replies[1], "id": 999}],
     "a batch answer has id 999, which is no call's"),
    (_repeat_first_id, r"a batch answers call id \d+ twice"),
    (lambda replies: [replies[0], "ok"], "an answer in a batch is no JSON-RPC reply: 'ok'"),
])
def test_a_batch_reply_that_does_not_answer_each_call_once_is_unavailable(
        bitcoind: JsonRpcServer, shape: Any, problem: str) -> None:
    bitcoind.reshape_batches(shape)
    with pytest.raises(BroadcastUnavailable, match=problem) as caught:
        client(bitcoind).call_many([("echo", [1]), ("echo", [2])])
    assert caught.value.retryable is True


def test_a_batch_refused_as_a_whole_names_the_error(bitcoind: JsonRpcServer) -> None:
    bitcoind.reshape_batches(lambda replies: {
        "result": None, "error": {"code": -32700, "message": "Parse error"}, "id": None})
    with pytest.raises(BroadcastUnavailable,
                       match="a batch of 2 calls was refused: error -32700: Parse error"):
        client(bitcoind).call_many([("echo", [1]), ("echo", [2])])


def test_a_batch_with_wrong_credentials_fails_without_showing_them(
        bitcoind: JsonRpcServer) -> None:
    wrong = "not-the-" + PASSWORD
    with pytest.raises(BroadcastUnavailable, match="authentication failed") as caught:
        client(bitcoind, password=wrong).call_many([("echo", [1])])
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)


def test_a_server_that_is_down_is_unreachable_for_a_batch_too(bitcoind: JsonRpcServer) -> None:
    rpc = client(bitcoind)
    bitcoind.stop()
    with pytest.raises(BroadcastUnavailable, match="unreachable"):
        rpc.call_many([("echo", [1])])


def test_credentials_in_the_url_stay_out_of_messages(bitcoind: JsonRpcServer) -> None:
    port = bitcoind.url.rsplit(":", 1)[1]
    rpc = CoreRpc(f"http://user:url-Pa55@127.0.0.1:{port}", USER, "wrong")
    assert rpc.where == f"http://127.0.0.1:{port}"
    with pytest.raises(BroadcastUnavailable) as caught:
        rpc.call("getblockcount")
    assert "url-Pa55" not in str(caught.value)


def test_proxy_variables_are_ignored(bitcoind: JsonRpcServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert client(bitcoind).call("getblockcount") == Reply(result=812)
