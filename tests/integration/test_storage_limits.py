"""Values SQLite cannot hold, sent to a running node: each is refused with a clear reason, and
the node goes on storing what comes next (no write is left in flight, no PoisonMessage).

Outcomes are read from the node's replies, its log and its database file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.messages import (
    ChainStatus,
    Member,
    PegoutAccepted,
    PegoutRejected,
    UpdateFederation,
)
from harness.mock import MockGovernance
from harness.nodes import LocalNode, log_text
from harness.waiting import wait_until
from tests.support.pegouts import (
    chain_status,
    initiate,
    local_keys,
    pegout,
    pegout_node,
    query,
    wait_pegout,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

SLOW_CLOCK = {"height_source": {"kind": "clock", "slot_s": 3600}}
UINT64_MAX = 2**64 - 1


def log_line(node: LocalNode, text: str) -> str:
    def found() -> str | None:
        return next((line for line in log_text(node.config).splitlines() if text in line), None)

    return wait_until(found, timeout=30, message=f"no log line with {text!r}")


def no_poison(node: LocalNode) -> None:
    log = log_text(node.config)
    assert "Poison" not in log and "failed on a _Persist" not in log, log[-3000:]


def next_update_commits(node: LocalNode, mock: MockGovernance) -> None:
    mock.push_federation_update(version=1, indices=list(range(6)), threshold=4,
                                request_id="fed-next")

    def in_force() -> ChainStatus | None:
        current = chain_status(node)
        return current if current.federation_version == 1 else None

    assert wait_until(in_force, timeout=30).threshold == 4
    # The status answers from the chain's memory; the rows follow with the commit.
    wait_until(lambda: query(node, "SELECT version, threshold, state FROM federations "
                             "ORDER BY version") == [(0, 3, "applied"), (1, 4, "applied")],
               timeout=30, message="version 1 was never committed")
    assert dict(query(node, "SELECT request_id, outcome FROM inbound_handled"))["fed-next"] \
        == "applied"


def test_an_update_activating_at_the_largest_uint64_is_refused_and_the_next_one_commits(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        mock.push_federation_update(version=1, indices=[0, 1, 2, 3], threshold=2,
                                    effective_height=UINT64_MAX, request_id="fed-never")
        # Refused where it is first seen: today the stream's wire checks, else the chain's
        # write (below). Either way one line names the update, the field and the value.
        line = log_line(node, str(UINT64_MAX))
        assert "fed-never" in line and "effective_height" in line, line
        status = chain_status(node)
        assert (status.federation_version, status.scheduled) == (0, ())
        next_update_commits(node, mock)
        no_poison(node)


def test_an_update_told_straight_to_the_chain_is_refused_and_the_next_one_commits(
        tmp_path: Path) -> None:
    """Only the stream may route an update to the ChainActor (actors/senders.py), and the
    stream refuses an activation height past int64 (actors/stream/wire/decode.py). Told
    straight to the chain from a client, such an update is refused unjudged: nothing is
    stored and nothing answered. (What the chain does with a record it cannot store is
    tested without an actor system: tests/unit/chain/test_not_stored.py.)"""
    members = tuple(Member(f"m{i}", key) for i, key in enumerate(local_keys(4)))
    never = UpdateFederation("fed-never", "member_add", 1, members, 2, UINT64_MAX, None, b"")
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, mock):
        node.client.tell("chain", never)
        log_line(node, "refused a UpdateFederation from")
        status = chain_status(node)
        assert (status.federation_version, status.scheduled) == (0, ())
        assert query(node, "SELECT outcome FROM inbound_handled WHERE request_id = ?",
                     "fed-never") == []
        next_update_commits(node, mock)
        no_poison(node)


def test_a_pegout_whose_request_id_has_a_lone_surrogate_is_refused_and_the_next_commits(
        tmp_path: Path) -> None:
    # The bridge refuses such an id before anything is written (the storage's own check,
    # tested in tests/unit/storage/test_limits.py, stays as the last line).
    with pegout_node(tmp_path) as (node, _):
        [refused] = initiate(node, [pegout("bad-\ud800", seed=51)])
        assert isinstance(refused, PegoutRejected), refused
        assert refused.reason == ("request_id holds a control character, a line separator "
                                  "or a lone surrogate")

        request = pegout("after-bad", seed=52)
        assert initiate(node, [request]) == [PegoutAccepted("after-bad")]
        wait_pegout(node, "after-bad", "broadcast")
        wait_until(lambda: query(node, "SELECT request_id, state FROM pegouts")
                   == [("after-bad", "broadcast")], timeout=30,
                   message="the broadcast peg-out was never committed")
        no_poison(node)


def test_a_height_past_int64_is_ignored_and_the_chain_goes_on(tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain=SLOW_CLOCK) as (node, _):
        assert node.client.advance_height(2**63).height < 2**63
        log_line(node, f"height {2**63} ignored")
        assert node.client.advance_height(500).height == 500
        wait_until(lambda: query(node, "SELECT value FROM meta WHERE key = 'height'")
                   == [("500",)], timeout=30)
        no_poison(node)
