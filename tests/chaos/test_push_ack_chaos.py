"""SIGKILL the StreamActor, `system_supervisor` and the ChainActor, one at a time and again
and again, while 100 federation updates are pushed: every version is applied exactly once
and acknowledged (docs/protocol.md, convention 8).

Judged from outside the node: the mock's record of acknowledgements (`GET /acks`) and
the rows of the database read directly. The mock re-sends, when the node registers again,
every push it has not seen acknowledged; nothing else brings a push lost with a killed
process back.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.nodes import LocalNode, log_text
from harness.stream import NODE_ID
from harness.waiting import wait_until
from tests.support.pegouts import pegout_node, query, running_pid

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

VERSIONS = 100
KILL_EVERY = 4  # pushes between two kills
VICTIMS = ("stream", "system_supervisor", "chain")


def acks(mock: Any) -> dict[str, Any]:
    node: dict[str, Any] = mock.acks(NODE_ID)["nodes"].get(NODE_ID, {})
    return node


def push_until_delivered(mock: Any, version: int) -> None:
    """Push to the node's stream; while a killed stream has none, try again."""
    def delivered() -> bool:
        reply = mock.push_federation_update(version=version, request_id=f"fed-{version}",
                                            node_id=NODE_ID, indices=[0, 1, 2, 3, 4],
                                            threshold=3)
        return bool(reply["delivered"])
    wait_until(delivered, timeout=60, interval=0.02,
               message=f"fed-{version}: no stream of the node to push to")


def wait_restarted(node: LocalNode, name: str, old_pid: int) -> None:
    """`name` runs under a new pid, and so does every victim (a killed supervisor's
    children come back after it)."""
    def back() -> bool:
        pids = {victim: running_pid(node, victim) for victim in VICTIMS}
        return None not in pids.values() and pids[name] != old_pid
    wait_until(back, timeout=60, message=f"{name} was not restarted")


def test_every_update_is_applied_exactly_once_and_acknowledged_across_kills(
        tmp_path: Path) -> None:
    # 25 kills in well under a minute: wide intensities, or the supervisors would (rightly)
    # give up and escalate to the launcher.
    wide = {"strategy": "one_for_one", "intensity": 100, "period_s": 60}
    supervision = {"supervisors": {name: wide for name in
                                   ("root", "storage_supervisor", "system_supervisor")}}
    with pegout_node(tmp_path, chain={"height_source": {"kind": "clock", "slot_s": 3600}},
                     supervision=supervision) as (node, mock):
        wait_until(lambda: acks(mock).get("acknowledges"), timeout=30,
                   message="the node never registered as acknowledging pushes")
        kills: Counter[str] = Counter()
        last_kill: tuple[str, int] | None = None
        for version in range(1, VERSIONS + 1):
            push_until_delivered(mock, version)
            if version % KILL_EVERY:
                continue
            if last_kill is not None:  # one at a time: the last victim is back first
                wait_restarted(node, *last_kill)
            victim = VICTIMS[(version // KILL_EVERY) % len(VICTIMS)]
            pid = running_pid(node, victim)
            assert pid is not None, f"{victim} is not running"
            os.kill(pid, signal.SIGKILL)
            kills[victim] += 1
            last_kill = (victim, pid)

        expected = {f"fed-{v}" for v in range(1, VERSIONS + 1)}
        wait_until(lambda: expected <= set(acks(mock).get("acked", {})), timeout=240,
                   interval=0.5, message=lambda: "never acknowledged: " + ", ".join(
                       sorted(expected - set(acks(mock).get("acked", {})), key=_number)[:20]))
        record = acks(mock)
        applied = [row[0] for row in query(
            node, "SELECT version FROM federations WHERE state = 'applied' ORDER BY version")]
        outcomes = dict(query(node, "SELECT request_id, outcome FROM inbound_handled "
                                    "WHERE owner = 'chain'"))
        sent = sum(record["sent"].values())
        print(f"\npush-ack chaos: kills={dict(kills)} pushes_sent={sent} "
              f"resent_on_registration={record['resent']} "
              f"acks={sum(record['acked'].values())} repeated_acks="
              f"{sum(n - 1 for n in record['acked'].values())} "
              f"unknown_acks={record['unknown_acks']}")
        assert sum(kills.values()) == VERSIONS // KILL_EVERY
        assert min(kills[victim] for victim in VICTIMS) >= VERSIONS // KILL_EVERY // len(VICTIMS)
        assert applied == list(range(VERSIONS + 1))  # 0 is the config's
        # Each judged once: a second judgement of an applied version would have stored
        # "rejected: version not newer" over it.
        assert outcomes == {request_id: "applied" for request_id in expected}
        assert record["unacked"] == [] and record["unknown_acks"] == {}
        assert set(record["acked"]) == expected
        applied_lines = Counter(
            line.split("federation version ")[1].split()[0]
            for line in log_text(node.config).splitlines() if " in force" in line)
        assert max(applied_lines.values()) == 1, applied_lines


def _number(request_id: str) -> int:
    return int(request_id.rsplit("-", 1)[1])
