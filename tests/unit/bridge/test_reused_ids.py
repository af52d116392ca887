"""A reused id found by the new record's first write: the workflow decides on the stored
record as `requested` would, at once, and the written record leaves memory. And the spool:
where the next start reads from, and the crash between the spool's fsync and the commit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from actors.bridge import pegins, workflow
from actors.bridge.effects import CountOutflow, Drop, Persist, Reply
from actors.bridge.ledger import transition
from actors.bridge.spool import SpoolBroadcaster
from actors.bridge.spoolmarks import SpoolMarks
from actors.messages import (
    InitiatePegout,
    NotifyPegin,
    PeginAccepted,
    PeginRejected,
    PegoutAccepted,
    PegoutRejected,
    PegoutState,
)
from btc.testing import make_unsigned_pegout
from tests.unit.bridge.test_workflow import (
    CLIENT,
    FED,
    NOW,
    accepted_record,
    request,
    signed_record,
    situation,
)


def finished(rid: str = "po-1", seed: int = 0) -> tuple[workflow.Step, object]:
    """A new request's step, and the stored finished record under the same id."""
    new = workflow.requested(None, request(rid, seed), CLIENT, situation())
    stored = transition(accepted_record(rid), PegoutState.FAILED, NOW + 5, error="gave up")
    return new, stored


def test_a_new_peg_outs_first_write_carries_its_request() -> None:
    step = workflow.requested(None, request(), CLIENT, situation())
    [counted, persist] = step.effects
    assert isinstance(persist, Persist) and persist.request == request()
    # What it pays out is counted against the outflow window at once, and taken back if
    # the write finds the id used (below).
    assert isinstance(counted, CountOutflow) and counted.sat == persist.record.payout_sat > 0


def test_the_same_request_for_a_finished_id_is_accepted_again_at_once() -> None:
    new, stored = finished()
    assert new.record is not None and isinstance(stored, type(new.record))
    step = workflow.already_stored(stored, request(), CLIENT, situation(), written=new.record)
    assert step.effects == (Drop(new.record), CountOutflow(NOW, -new.record.payout_sat),
                            Reply(CLIENT, PegoutAccepted("po-1")))
    # The same answer `requested` gives when the record is at hand, without the wait.
    [persist] = workflow.requested(stored, request(), CLIENT, situation()).effects
    assert isinstance(persist, Persist) and persist.then == step.effects[2:]


def test_other_content_under_a_finished_id_is_refused() -> None:
    new, stored = finished()
    assert new.record is not None and isinstance(stored, type(new.record))
    step = workflow.already_stored(stored, request(seed=7), CLIENT, situation(),
                                   written=new.record)
    assert step.effects[0] == Drop(new.record)
    [reply] = [e for e in step.effects if isinstance(e, Reply)]
    assert isinstance(reply.message, PegoutRejected) and "already used" in reply.message.reason
    assert not any(isinstance(e, Persist) for e in step.effects)


def test_a_replacement_under_a_finished_id_takes_back_what_it_counted() -> None:
    # A replacement is counted whole when it is accepted, like any peg-out.
    tx_hex, indices, amounts = make_unsigned_pegout(FED.witness_script, fee_rate_sat_vb=5.0)
    asked = InitiatePegout("po-2", tx_hex, indices, amounts, replaces="po-1")
    new = workflow.requested(None, asked, CLIENT, situation(now=NOW + 60), signed_record())
    assert new.record is not None
    [counted, _] = new.effects
    assert counted == CountOutflow(NOW + 60, new.record.payout_sat)
    stored = transition(accepted_record("po-2"), PegoutState.FAILED, NOW + 5, error="gave up")

    step = workflow.already_stored(stored, asked, CLIENT, situation(now=NOW + 90),
                                   written=new.record)

    assert step.effects[:2] == (Drop(new.record),
                                CountOutflow(NOW + 60, -new.record.payout_sat))
    [reply] = [e for e in step.effects if isinstance(e, Reply)]
    assert isinstance(reply.message, PegoutRejected) and "already used" in reply.message.reason


def test_a_reused_peg_in_id_is_accepted_for_the_same_notice_and_refused_for_another() -> None:
    notice = NotifyPegin("in-1", "AB" * 32, 0, 7000, "0x" + "1" * 40, 6)
    record, _ = pegins.notified(None, notice, CLIENT, 6, NOW)
    assert record is not None
    acknowledged = dataclasses.replace(record, acknowledged=True, revision=2)
    assert pegins.already_stored(acknowledged, notice, CLIENT, written=record) == (
        Drop(record), Reply(CLIENT, PeginAccepted("in-1")))
    other = dataclasses.replace(notice, amount=1)
    effects = pegins.already_stored(acknowledged, other, CLIENT, written=record)
    assert isinstance(effects[-1], Reply) and isinstance(effects[-1].message, PeginRejected)


# -- the spool ------------------------------------------------------------------------------

TX = "00" * 40


def txid(n: int) -> str:
    return f"{n:064x}"


def test_read_from_stays_at_the_oldest_append_not_yet_committed() -> None:
    marks = SpoolMarks(read_from=0, end=0)
    marks.appended(0, 100, ["a", "b"])
    marks.appended(100, 150, ["c"])
    assert marks.read_from() == 0
    marks.committed("a")
    assert marks.read_from() == 0  # b is not committed yet
    marks.committed("b")
    assert marks.read_from() == 100
    marks.committed("c")
    assert marks.read_from() == 150 and len(marks) == 0


def test_a_peg_out_handed_over_again_counts_in_its_newest_append() -> None:
    marks = SpoolMarks(read_from=0, end=0)
    marks.appended(0, 100, ["a"])
    marks.appended(100, 200, ["a"])  # its broadcast state was not committed: again
    marks.committed("a")
    assert marks.read_from() == 200


def test_a_start_with_spooled_but_uncommitted_peg_outs_reads_from_before_them() -> None:
    marks = SpoolMarks(read_from=300, end=500, pending=["x"])
    assert marks.read_from() == 300
    marks.committed("x")
    assert marks.read_from() == 500


def test_a_crash_between_the_spools_fsync_and_the_commit_appends_nothing_twice(
        tmp_path: Path) -> None:
    path = tmp_path / "spool"
    # A long history, all committed `broadcast`: the stored offset is past it.
    with SpoolBroadcaster(path) as spool:
        spool.broadcast_many([(TX, txid(n)) for n in range(1000)])
        committed_read_from = spool.offset
        marks = SpoolMarks(committed_read_from, spool.offset)
        # The next batch is fsynced ... and the process dies before its commit, so the
        # stored offset stays where it was and the peg-out stays `signed`.
        start = spool.offset
        assert spool.broadcast(TX, txid(5000))
        marks.appended(start, spool.offset, ["po-5000"])
        assert marks.read_from() == committed_read_from
    # The restart reads only what follows the stored offset: the one line that matters.
    with SpoolBroadcaster(path, read_from=committed_read_from) as spool:
        assert spool.txids() == {txid(5000)}
        assert not spool.broadcast(TX, txid(5000))  # handed over again: not appended
    lines = path.read_text().splitlines()
    assert len(lines) == 1001 and lines.count(f"{txid(5000)} {TX}") == 1


def test_an_offset_that_is_not_a_line_start_reads_the_whole_spool(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    with SpoolBroadcaster(path) as spool:
        spool.broadcast_many([(TX, txid(1)), (TX, txid(2))])
    with SpoolBroadcaster(path, read_from=5) as spool:
        assert spool.txids() == {txid(1), txid(2)}
    with SpoolBroadcaster(path, read_from=10**9) as spool:  # a spool replaced by a shorter one
        assert spool.txids() == {txid(1), txid(2)}


def test_a_spool_opened_without_reading_reads_it_whole_before_its_first_append(
        tmp_path: Path) -> None:
    path = tmp_path / "spool"
    with SpoolBroadcaster(path) as spool:
        spool.broadcast(TX, txid(1))
    with SpoolBroadcaster(path, read_from=None) as spool:
        assert spool.txids() == frozenset()  # not read yet
        assert not spool.broadcast(TX, txid(1))
    assert len(path.read_text().splitlines()) == 1
