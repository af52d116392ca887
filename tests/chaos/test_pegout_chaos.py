"""SIGKILL the BridgeActor, the StorageActor and the StreamActor in the middle of the peg-out
flow: every peg-out still reaches `broadcast` with one txid, and every federation update is
applied once.

Judged from outside the node's counters: the spool file (one line per txid),
the mock governance server's record of what the node asked, and the rows of
the database read directly.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from actors.bridge.spool import read_spool
from harness.nodes import LocalNode, log_text
from harness.waiting import wait_until
from tests.support.pegouts import (
    accepted,
    broadcast_ids,
    chain_status,
    initiate_many,
    pegout,
    pegout_node,
    query,
    running_pid,
)
from tests.support.stream import NODE_ID, payload_kind

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def kill(node: LocalNode, name: str) -> None:
    """SIGKILL the actor and wait until its supervisor has a new one running."""
    pid = running_pid(node, name)
    assert pid is not None, f"{name} is not running"
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: running_pid(node, name) not in (None, pid), timeout=60,
               message=f"{name} was not restarted")


def requested(mock: Any) -> list[str]:
    return [r["metadata"]["request_id"] for r in mock.record(NODE_ID).get(NODE_ID, [])
            if payload_kind(r) == "signature_request"]


def assert_broadcast_once(node: LocalNode, request_ids: list[str], timeout: float = 300) -> None:
    """Each peg-out broadcast, and the spool holds exactly one line per txid, one per peg-out."""
    wait_until(lambda: len(broadcast_ids(node)) == len(request_ids), timeout=timeout,
               interval=0.5, message=lambda: f"{len(broadcast_ids(node))} of "
               f"{len(request_ids)} peg-outs broadcast")
    assert broadcast_ids(node) == sorted(request_ids)
    entries = read_spool(node.config.bridge.broadcaster.spool_path)
    txids = Counter(entry.txid for entry in entries)
    assert len(entries) == len(request_ids), f"{len(entries)} spool lines"
    assert max(txids.values()) == 1
    stored = {row[0] for row in query(node, "SELECT txid FROM pegouts")}
    assert stored == set(txids), "the spool and the database disagree on the txids"


@pytest.mark.parametrize("victim", ["stream", "bridge", "storage"])
def test_2500_pending_pegouts_survive_a_killed_actor(tmp_path: Path, victim: str) -> None:
    with pegout_node(tmp_path) as (node, mock):
        mock.behave(hold_signatures=True)
        requests = [pegout(f"p{i:04d}", seed=1000 + i) for i in range(2500)]
        assert initiate_many(node, requests) == accepted(requests)
        wait_until(lambda: len(set(requested(mock))) == 2500, timeout=120, interval=0.5,
                   message=lambda: f"{len(set(requested(mock)))} requests reached governance")
        kill(node, victim)
        mock.behave(hold_signatures=False)
        mock.release()
        assert_broadcast_once(node, [r.request_id for r in requests])
        if victim != "stream":
            # No attempt was needed twice: every answer was for attempt 1.
            assert {rid.rsplit("/", 1)[1] for rid in requested(mock)} == {"1"}


@pytest.mark.parametrize("victim", ["bridge", "storage", "stream"])
def test_pegouts_survive_a_kill_while_answers_are_being_applied(tmp_path: Path,
                                                                victim: str) -> None:
    with pegout_node(tmp_path) as (node, mock):
        mock.behave(hold_signatures=True)
        requests = [pegout(f"q{i:04d}", seed=5000 + i) for i in range(600)]
        assert initiate_many(node, requests) == accepted(requests)
        wait_until(lambda: len(set(requested(mock))) == 600, timeout=120, interval=0.5)
        mock.behave(hold_signatures=False)
        mock.release()
        # Kill once part of the answers is applied and broadcast, before all are.
        wait_until(lambda: len(broadcast_ids(node)) >= 50, timeout=120, interval=0.05)
        kill(node, victim)
        assert_broadcast_once(node, [r.request_id for r in requests])


def test_each_federation_update_is_applied_once_across_chain_and_storage_kills(
        tmp_path: Path) -> None:
    with pegout_node(tmp_path, chain={"height_source": {"kind": "clock", "slot_s": 3600}}) as (
            node, mock):
        for version in range(1, 31):
            mock.push_federation_update(version=version, indices=[0, 1, 2, 3, 4], threshold=3,
                                        request_id=f"fed-{version}")
            if version == 10:
                kill(node, "chain")
            if version == 20:
                kill(node, "storage")
        wait_until(lambda: chain_status(node).federation_version == 30, timeout=120)

        def applied() -> list[int]:
            return [row[0] for row in query(
                node, "SELECT version FROM federations WHERE state = 'applied' ORDER BY version")]

        # The status answers from the chain's memory; the rows follow with the next commit.
        versions = wait_until(lambda: (v := applied()) and v[-1] == 30 and v, timeout=30)
        handled = Counter(row[0] for row in query(
            node, "SELECT request_id FROM inbound_handled WHERE owner = 'chain'"))
        assert versions == list(range(31))  # 0 is the config's
        assert set(handled) == {f"fed-{v}" for v in range(1, 31)}
        # A kill between the commit and the log line can leave a version unlogged (the
        # restarted chain loads it as the one in force); none may be applied twice.
        applied_lines = Counter(
            line.split("federation version ")[1].split()[0]
            for line in log_text(node.config).splitlines() if " in force" in line)
        assert max(applied_lines.values()) == 1, applied_lines
        assert "unexpected message" not in log_text(node.config)
