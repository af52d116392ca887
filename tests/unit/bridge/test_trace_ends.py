"""A peg-out's trace is ended only by a decision on the request that began it: a later
request under the live peg-out's id (other content, refused as a duplicate) leaves it
open, also when its decision waits for a read from storage and runs in a later turn; and
the trace a request began ends with its decision, also when nothing is stored for it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from actors.bridge.actor import BridgeActor
from actors.bridge.drain import Drain
from actors.bridge.observe import pegout_key
from actors.bridge.outflow import OutflowWindow
from actors.bridge.workflow import Rules
from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected, PegoutState
from actors.storage.records import PegoutRecord
from btc.testing import make_unsigned_pegout
from nodeconfig import TracingConfig
from runtime import tracing
from tests.unit.btc import federation

NOW = time.time()


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(tracing, "_pid", None)  # as in a freshly forked process
    monkeypatch.setattr(tracing, "_provider", None)  # and so restored after the test
    tracing.start(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces"), "bridge", "n1",
                  exporter=InMemorySpanExporter())
    try:
        yield
    finally:
        tracing.stop()


def live_replacement() -> tuple[BridgeActor, list[Any], list[Callable[..., None]]]:
    """A bridge with `po-2` awaiting signatures and its trace open; storage reads wait."""
    actor, sent, reads = BridgeActor(), [], []
    actor.loaded = True
    actor.peers = {"stream": "stream"}
    actor.federation = federation(5, 3)
    actor.rules = Rules(max_pegout_sat=10**8, signature_retries=3)
    actor.book.put(PegoutRecord("po-2", "00", (0,), (1,), PegoutState.AWAITING_SIGNATURES.value,
                                1, 3, created_at=NOW, updated_at=NOW, replaces="po-1"))
    actor.send = lambda to, message: sent.append(message)  # type: ignore[method-assign]
    actor._fetch = lambda answer, **query: reads.append(answer)  # type: ignore[method-assign]
    assert tracing.begin(pegout_key("po-2"), "pegout", request_id="po-2")
    return actor, sent, reads


@pytest.mark.usefixtures("traced")
def test_a_duplicate_decided_after_a_read_leaves_the_live_pegout_s_trace_open() -> None:
    actor, sent, reads = live_replacement()
    original = PegoutRecord("po-1", "00", (0,), (1,), PegoutState.FAILED.value, 1, 3,
                            created_at=NOW, updated_at=NOW, signed_tx_hex="00")

    # Other content under po-2's id, replacing po-1, which only storage holds.
    actor.receiveMsg_InitiatePegout(InitiatePegout("po-2", "11", (0,), (2,), replaces="po-1"),
                                    "client")
    [answer] = reads
    answer((original,), None)  # a later turn: the original is read back

    [refused] = sent
    assert isinstance(refused, PegoutRejected) and refused.kind == "duplicate"
    assert pegout_key("po-2") in tracing._open  # the live one's trace goes on


@pytest.mark.usefixtures("traced")
def test_a_request_that_began_the_trace_ends_it_when_refused_after_a_read() -> None:
    actor, sent, reads = live_replacement()

    actor.receiveMsg_InitiatePegout(InitiatePegout("po-3", "11", (0,), (2,), replaces="po-9"),
                                    "client")
    [answer] = reads
    answer((), None)  # no po-9 anywhere

    [refused] = sent
    assert isinstance(refused, PegoutRejected)
    assert pegout_key("po-3") not in tracing._open  # its own trace ended
    assert pegout_key("po-2") in tracing._open


@pytest.mark.usefixtures("traced")
def test_a_finished_pegout_requested_again_while_drained_ends_the_trace_its_request_began(
        ) -> None:
    actor, sent, reads = live_replacement()
    actor.drain = Drain("maintenance", NOW)
    finished = PegoutRecord("po-1", "00", (0,), (1,), PegoutState.BROADCAST.value, 1, 3,
                            created_at=NOW, updated_at=NOW)
    actor.store.write = lambda records, then=None, **kw: then and then()  # type: ignore

    actor.receiveMsg_InitiatePegout(InitiatePegout("po-1", "00", (0,), (1,)), "client")
    assert pegout_key("po-1") in tracing._open
    [answer] = reads
    answer((finished,), None)  # read back: the same request, accepted again

    assert sent == [PegoutAccepted("po-1")]
    assert pegout_key("po-1") not in tracing._open  # not left open until evicted
    assert pegout_key("po-2") in tracing._open


@pytest.mark.usefixtures("traced")
def test_a_new_pegout_s_trace_stays_open_once_it_is_accepted() -> None:
    actor, _sent, _reads = live_replacement()
    written: list[Any] = []
    actor.store.write = lambda records, **kw: written.extend(records)  # type: ignore
    actor.outflow = OutflowWindow(86_400.0, 10**8)
    tx_hex, indices, amounts = make_unsigned_pegout(actor.federation.witness_script, seed=3)

    actor.receiveMsg_InitiatePegout(InitiatePegout("po-7", tx_hex, indices, amounts), "client")

    assert any(getattr(r, "request_id", None) == "po-7" for r in written)  # being stored
    assert pegout_key("po-7") in tracing._open  # its trace goes on
