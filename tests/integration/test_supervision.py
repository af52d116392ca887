"""OTP policies on real processes: strategies, hung actors, poison, graceful stop, the root."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from thespian.actors import PoisonMessage

from actors.lifecycle import _FatalError
from actors.messages import ActorInfo, Batch, Ping, Pong
from harness.nodes import LocalNode, log_text, running_node
from harness.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

SYSTEM_CHILDREN = ("chain", "bridge", "stream")


def actors(node: LocalNode) -> dict[str, ActorInfo]:
    report = node.client.node_status()
    assert report is not None
    return {a.name: a for a in report.actors}


def pids(node: LocalNode) -> dict[str, int | None]:
    return {name: info.pid for name, info in actors(node).items()}


def all_running(node: LocalNode) -> dict[str, ActorInfo] | None:
    current = actors(node)
    return current if all(a.state == "running" for a in current.values()) else None


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


def supervisors(strategy: str) -> dict[str, Any]:
    return {"supervisors": {"system_supervisor": {"strategy": strategy, "intensity": 10,
                                                  "period_s": 60}}}


@pytest.mark.parametrize(("strategy", "changed"), [
    ("one_for_one", {"bridge"}),
    ("one_for_all", {"chain", "bridge", "stream"}),
    ("rest_for_one", {"bridge", "stream"}),
])
def test_a_strategy_restarts_exactly_the_children_it_names(
    tmp_path: Path, strategy: str, changed: set[str]
) -> None:
    with running_node(tmp_path, supervision=supervisors(strategy)) as node:
        before = pids(node)
        os.kill(before["bridge"], signal.SIGKILL)

        def settled() -> dict[str, ActorInfo] | None:
            current = all_running(node)
            if current and all(current[n].pid != before[n] for n in changed):
                return current
            return None

        after = wait_until(settled, timeout=30, message="the restart did not settle")
        assert {n for n in before if after[n].pid != before[n]} == changed
        for name in changed:
            assert gone(before[name])
            assert after[name].restarts == 1
        log = log_text(node.config)
        for name in changed - {"bridge"}:
            # the siblings were stopped by their supervisor, then started again
            assert re.search(rf"event=restart supervisor=system_supervisor child={name} "
                             rf"reason=shutdown decision=restart attempt=1 "
                             rf"old_pid={before[name]} new_pid={after[name].pid}", log)


def test_a_hung_actor_is_detected_killed_and_restarted(tmp_path: Path) -> None:
    health = {"health": {"ping_interval_s": 0.2, "ping_timeout_s": 1.0}}
    with running_node(tmp_path, supervision=health) as node:
        chain = pids(node)["chain"]
        os.kill(chain, signal.SIGSTOP)  # alive, but answers nothing
        after = wait_until(lambda: (a := all_running(node)) and a["chain"].pid != chain and a,
                           timeout=30, message="the hung chain was not replaced")
        assert after["chain"].restarts == 1
        wait_until(lambda: "event=child_hung supervisor=system_supervisor child=chain "
                           f"reason=hung decision=restart attempt=1 old_pid={chain}"
                           in log_text(node.config), timeout=10, message="no child_hung line")
        assert gone(chain)


def test_a_message_that_crashes_an_actor_comes_back_as_poison_without_a_restart(
    tmp_path: Path,
) -> None:
    with running_node(tmp_path) as node:
        storage = node.client.lookup("storage")
        before = actors(node)["storage"]
        # a Batch whose items are not a sequence fails on every attempt
        reply = node.client.ask(storage, Batch(items=5), PoisonMessage)  # type: ignore[arg-type]
        assert isinstance(reply, PoisonMessage)
        assert node.client.ask(storage, Ping(3), Pong) == Pong(3, "storage", before.pid)
        after = actors(node)["storage"]
        assert (after.pid, after.restarts) == (before.pid, 0)
        log = log_text(node.config)
        assert "storage failed on a Batch" in log
        assert (f"supervision event=resume supervisor=storage_supervisor child=storage "
                f"reason=poison decision=resume attempt=0 old_pid={before.pid} "
                f"new_pid={before.pid}") in log


def test_a_child_that_reported_a_fatal_error_exits_with_reason_error(tmp_path: Path) -> None:
    with running_node(tmp_path) as node:
        chain = pids(node)["chain"]
        node.client.tell("system_supervisor", _FatalError("chain", "disk on fire"))
        wait_until(lambda: "chain reports a fatal error: disk on fire" in log_text(node.config),
                   timeout=10, message="the report was not logged")
        os.kill(chain, signal.SIGKILL)
        wait_until(lambda: f"child=chain reason=error decision=restart attempt=1 "
                           f"old_pid={chain}" in log_text(node.config), timeout=30,
                   message="the exit was not attributed to the error")


def test_a_graceful_stop_goes_in_reverse_start_order(tmp_path: Path) -> None:
    with running_node(tmp_path) as node:
        config = node.config
    stops = [line.split()[3] for line in log_text(config).splitlines()
             if "stopping:" in line]
    assert stops == ["alys.root", "alys.system_supervisor", "alys.stream", "alys.bridge",
                     "alys.chain", "alys.storage_supervisor", "alys.storage"]


def test_a_dead_root_is_replaced_by_a_fresh_tree_with_no_survivor(tmp_path: Path) -> None:
    with running_node(tmp_path) as node:
        before = pids(node)
        os.kill(before["root"], signal.SIGKILL)
        wait_until(lambda: not node.owner.root_alive(), timeout=10, message="root still alive")
        report = node.owner.recover_root()
        after = {a.name: a for a in report.actors}
        assert after["root"].restarts == 1
        assert all(after[name].pid != before[name] for name in before)
        for pid in before.values():
            assert pid is not None and gone(pid)
        streams = [p for p in psutil.process_iter(["cmdline"])
                   if " stream (" in " ".join(p.info["cmdline"] or [])
                   and "alys-test" in " ".join(p.info["cmdline"] or [])
                   and p.status() != "zombie"]
        assert [p.pid for p in streams] == [after["stream"].pid]
