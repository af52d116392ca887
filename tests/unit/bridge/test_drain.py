"""Draining without an actor: the stored value, the reason's bounds, and the workflow's
refusals of new work while drained; and the bridge's part of a reload."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest

from actors.bridge import drain, workflow
from actors.bridge.book import Book
from actors.bridge.broadcasting import Broadcasting
from actors.bridge.effects import Note, Reply
from actors.bridge.maintenance import Maintenance
from actors.bridge.outflow import OutflowWindow
from actors.bridge.spool import SpoolBroadcaster
from actors.messages import (
    DrainPegouts,
    DrainState,
    PegoutAccepted,
    PegoutRejected,
    PegoutState,
    UndrainPegouts,
)
from actors.storage.records import MetaValue, PegoutRecord
from nodeconfig import BridgeConfig, BroadcasterConfig, NodeConfig
from tests.unit.bridge.test_workflow import CLIENT, accepted_record, request, situation

DRAINED = drain.Drain("disk swap", 1_700_000_000.5)


def drained() -> workflow.Situation:
    return dataclasses.replace(situation(), drain=DRAINED)


def test_a_drain_survives_its_stored_form() -> None:
    assert drain.decode(DRAINED.encode()) == DRAINED
    assert drain.decode("") is None


@pytest.mark.parametrize("stored", ["[]", '{"reason": 1, "since": 2}', '{"reason": "x"}',
                                    '{"reason": "x", "since": true}',
                                    '{"reason": "x", "since": NaN}', "not json",
                                    '{"reason": "x", "since": 1e300}',
                                    '{"reason": "x", "since": -1e12}'])
def test_a_stored_value_this_node_did_not_write_is_refused(stored: str) -> None:
    with pytest.raises(ValueError):
        drain.decode(stored)


def test_the_refusal_names_the_reason_and_the_utc_time() -> None:
    assert DRAINED.refusal().startswith(
        "the node is draining since 2023-11-14T22:13:20Z (disk swap)")
    assert "no reason given" in drain.Drain("", 0.0).refusal()


@pytest.mark.parametrize(("reason", "problem"), [
    (3, "the reason must be text, got int"),
    ("x" * 501, "the reason is 501 characters long; at most 500"),
    ("two\nlines", "the reason must be printable text on one line"),
])
def test_an_unusable_reason_is_named(reason: object, problem: str) -> None:
    assert drain.reason_problem(reason) == problem


def test_a_reason_within_bounds_passes() -> None:
    assert drain.reason_problem("x" * 500) is None
    assert drain.reason_problem("") is None


def test_a_new_pegout_is_refused_while_drained() -> None:
    step = workflow.requested(None, request(), CLIENT, drained())
    assert step.record is None
    note, reply = step.effects
    assert isinstance(note, Note) and note.kind == "draining"
    assert reply == Reply(CLIENT, PegoutRejected("po-1", DRAINED.refusal()))
    assert isinstance(reply, Reply) and reply.message.kind == "draining"


def test_the_same_request_again_is_still_accepted_while_drained() -> None:
    # It was accepted before the drain: answering it again takes no new work.
    first = workflow.requested(None, request(), CLIENT, situation()).record
    assert first is not None
    step = workflow.requested(first, request(), CLIENT, drained())
    assert step.effects[0].then == (Reply(CLIENT, PegoutAccepted("po-1")),)  # type: ignore[union-attr]


def test_a_retry_is_refused_while_drained() -> None:
    failed: PegoutRecord = dataclasses.replace(accepted_record(), state=PegoutState.FAILED.value)
    step = workflow.retry(failed, "po-1", CLIENT, drained())
    assert step.record == failed
    assert step.effects[-1] == Reply(CLIENT, PegoutRejected("po-1", DRAINED.refusal()))


class Bridge(Maintenance):
    """The mixin with what it reads of the BridgeActor, no actor system."""

    def __init__(self) -> None:
        self.drain = None
        self._drain_revision = 0
        self.log = logging.getLogger("test.bridge")
        self.book = Book()


def test_a_stored_drain_is_loaded_with_its_revision() -> None:
    bridge = Bridge()
    bridge._load_drain((MetaValue(drain.DRAINED, DRAINED.encode(), 4),))
    assert (bridge.drain, bridge._drain_revision) == (DRAINED, 4)
    assert bridge._drain_state() == DrainState(True, "disk swap", DRAINED.since, 0)


def test_an_undrained_value_loads_as_accepting() -> None:
    bridge = Bridge()
    bridge._load_drain((MetaValue(drain.DRAINED, "", 5),))
    assert bridge.drain is None and bridge._drain_revision == 5


def test_an_unreadable_stored_drain_leaves_the_bridge_drained() -> None:
    bridge = Bridge()
    bridge._load_drain((MetaValue(drain.DRAINED, "garbage", 2),))
    assert bridge.drain is not None
    assert bridge.drain.reason.startswith("the stored drain state is unreadable: ")


class Store:
    """Writes held until the test commits them, in order, as storage does."""

    def __init__(self) -> None:
        self.pending: list[tuple[list[MetaValue], Any]] = []

    def write(self, records: list[MetaValue], then: Any = None) -> None:
        self.pending.append((records, then))

    def commit_all(self) -> list[MetaValue]:
        written = []
        while self.pending:
            records, then = self.pending.pop(0)
            written.extend(records)
            then()
        return written


class WritingBridge(Bridge):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.sent: list[tuple[str, DrainState]] = []

    def send(self, to: str, message: DrainState) -> None:
        self.sent.append((to, message))


def test_a_drain_asked_while_an_undrain_is_being_stored_stays_in_force() -> None:
    bridge = WritingBridge()
    bridge._load_drain((MetaValue(drain.DRAINED, DRAINED.encode(), 4),))
    bridge.receiveMsg_UndrainPegouts(UndrainPegouts(), "first operator")
    bridge.receiveMsg_DrainPegouts(DrainPegouts("again"), "second operator")
    written = bridge.store.commit_all()
    assert [(w.value == "", w.revision) for w in written] == [(True, 5), (False, 6)]
    # Storage ends drained (the higher revision): memory, and the last answer, agree.
    assert bridge.drain is not None and bridge.drain.reason == "again"
    assert [(to, state.drained) for to, state in bridge.sent] == [
        ("first operator", True), ("second operator", True)]


def test_two_undrains_stored_in_turn_both_answer_undrained() -> None:
    bridge = WritingBridge()
    bridge._load_drain((MetaValue(drain.DRAINED, DRAINED.encode(), 4),))
    bridge.receiveMsg_UndrainPegouts(UndrainPegouts(), "first operator")
    bridge.receiveMsg_UndrainPegouts(UndrainPegouts(), "second operator")
    bridge.store.commit_all()
    assert bridge.drain is None
    assert [state.drained for _, state in bridge.sent] == [False, False]


def test_a_new_rpc_url_leaves_a_spool_broadcaster_alone(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    # The URL is read only by a bitcoin_rpc broadcaster; a second spool broadcaster on the
    # same file cannot take its lock, and would only log a false "keeping the URL" error.
    spool_path = str(tmp_path / "broadcast.spool")
    spool = SpoolBroadcaster(spool_path, read_from=None)
    bridge = Bridge()
    bridge.outflow = OutflowWindow(3600, 10)
    bridge.broadcasting = Broadcasting(spool, bridge.log)
    bridge.follower = None
    config = NodeConfig(bridge=BridgeConfig(broadcaster=BroadcasterConfig(
        kind="spool", spool_path=spool_path, rpc_url="http://127.0.0.1:8332/")))
    try:
        with caplog.at_level(logging.ERROR):
            bridge.on_reconfigure(config, ("bridge.broadcaster.rpc_url",))
        assert bridge.broadcasting.broadcaster is spool
        assert caplog.records == []
    finally:
        spool.close()
