"""The supervisor tree on real processes (multiprocTCPBase), driven through the ActorSystem API."""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil
import pytest

from actors.lifecycle import _GetPeers, _Peers
from actors.messages import ActorInfo, Ping, Pong
from harness.nodes import LocalNode, log_text, running_node
from harness.waiting import wait_until
from supervision.tree import SUPERVISORS, WORKERS, actor_names

pytestmark = pytest.mark.timeout(120)

CHILDREN_OF = {"storage_supervisor": ("storage",),
               "system_supervisor": ("chain", "bridge", "stream")}
SUPERVISOR_OF = {"storage": "storage_supervisor", "chain": "system_supervisor",
                 "bridge": "system_supervisor", "stream": "system_supervisor",
                 "storage_supervisor": "root", "system_supervisor": "root"}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_node(tmp_path) as running:
        yield running


def actors_by_name(node: LocalNode) -> dict[str, ActorInfo]:
    report = node.client.node_status()
    assert report is not None, "the root did not answer NodeStatus"
    return {a.name: a for a in report.actors}


def restarted(node: LocalNode, name: str, old_pid: int,
              restarts: int) -> dict[str, ActorInfo] | None:
    actors = actors_by_name(node)
    info = actors[name]
    ok = info.state == "running" and info.pid not in (None, old_pid) and info.restarts == restarts
    return actors if ok else None


def test_tree_starts_seven_actors_each_in_its_own_process(node: LocalNode) -> None:
    actors = actors_by_name(node)

    assert list(actors) == list(actor_names())
    assert all(a.state == "running" for a in actors.values())
    pids = [a.pid for a in actors.values()]
    assert len(set(pids)) == 7 and os.getpid() not in pids
    for name, info in actors.items():
        assert info.supervisor == SUPERVISOR_OF.get(name, "launcher")
        assert info.restarts == 0
        if name != "root":
            # the process tree is the supervisor tree
            assert psutil.Process(info.pid).ppid() == actors[info.supervisor].pid
        # and `ps` tells which process is which
        title = " ".join(psutil.Process(info.pid).cmdline())
        assert title.startswith(f"alys-node[alys-test] {name} ("), title


def test_every_actor_answers_ping_with_its_name_and_pid(node: LocalNode) -> None:
    actors = actors_by_name(node)
    for name in actor_names():
        pong = node.client.ping(name)
        assert isinstance(pong, Pong)
        assert (pong.name, pong.pid) == (name, actors[name].pid)


@pytest.mark.parametrize("name", WORKERS)
def test_killed_worker_is_restarted_with_a_new_pid_and_a_supervision_line(
    node: LocalNode, name: str
) -> None:
    old_pid = actors_by_name(node)[name].pid
    os.kill(old_pid, signal.SIGKILL)

    actors = wait_until(lambda: restarted(node, name, old_pid, 1), timeout=30,
                        message=f"{name} was not restarted")
    new_pid = actors[name].pid
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == "zombie"
    # the dead pid's live gauge is forgotten, so alys_actor_up does not count it
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert (metrics_dir / f"gauge_livemax_{new_pid}.db").exists()
    assert not (metrics_dir / f"gauge_livemax_{old_pid}.db").exists()
    line = (f"supervision event=restart supervisor={SUPERVISOR_OF[name]} child={name} "
            f"reason=killed decision=restart attempt=1 old_pid={old_pid} new_pid={new_pid}")
    wait_until(lambda: line in log_text(node.config), timeout=10, message=f"no line: {line}")
    assert node.client.ping(name).pid == new_pid
    others = {n: a.pid for n, a in actors.items() if n != name}
    assert all(a.restarts == 0 for n, a in actors.items() if n != name), others


def all_running(node: LocalNode, names: Iterable[str]) -> bool:
    # Until a new supervisor reports its subtree, its children are not listed at all.
    actors = actors_by_name(node)
    return all(name in actors and actors[name].state == "running" for name in names)


@pytest.mark.parametrize("name", SUPERVISORS)
def test_killed_supervisor_is_restarted_with_a_fresh_set_of_children(
    node: LocalNode, name: str
) -> None:
    before = actors_by_name(node)
    old_pid = before[name].pid
    old_children = {c: before[c].pid for c in CHILDREN_OF[name]}
    os.kill(old_pid, signal.SIGKILL)

    actors = wait_until(lambda: restarted(node, name, old_pid, 1), timeout=30,
                        message=f"{name} was not restarted")
    wait_until(lambda: all_running(node, old_children), timeout=30,
               message="the new supervisor's children did not start")
    actors = actors_by_name(node)
    for child, pid in old_children.items():
        assert actors[child].pid != pid
        assert psutil.Process(actors[child].pid).ppid() == actors[name].pid
        # no survivor of the old subtree: its processes are gone
        wait_until(lambda p=pid: not psutil.pid_exists(p)
                   or psutil.Process(p).status() == "zombie",
                   timeout=10, message=f"old {child} pid {pid} survived")
    line = (f"supervision event=restart supervisor=root child={name} reason=killed "
            f"decision=restart attempt=1 old_pid={old_pid} new_pid={actors[name].pid}")
    wait_until(lambda: line in log_text(node.config), timeout=10, message=f"no line: {line}")


def test_peers_learn_the_new_address_after_a_restart(node: LocalNode) -> None:
    old_pid = actors_by_name(node)["storage"].pid
    old_address = node.client.lookup("storage")
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: restarted(node, "storage", old_pid, 1), timeout=30,
               message="storage was not restarted")
    new_address = node.client.lookup("storage")
    assert new_address is not None and new_address != old_address

    def bridge_knows_new_storage() -> bool:
        peers = node.client.try_ask("bridge", _GetPeers(), _Peers)
        return isinstance(peers, _Peers) and dict(peers.addresses).get("storage") == new_address

    wait_until(bridge_knows_new_storage, timeout=10, message="bridge kept the old storage address")


def test_a_message_nobody_handles_is_logged_and_not_fatal(node: LocalNode) -> None:
    storage = node.client.lookup("storage")
    pid = actors_by_name(node)["storage"].pid
    node.client.tell(storage, "not a message of the catalogue")
    wait_until(lambda: "unexpected message received by storage" in log_text(node.config),
               timeout=10, message="the unexpected message was not logged")
    assert node.client.ask(storage, Ping(7), Pong) == Pong(7, "storage", pid)


def listening_sockets(pids: list[int]) -> list[tuple[int, str, int]]:
    found = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            found.append((conn.pid, conn.laddr.ip, conn.laddr.port))
    return found


def other_addresses() -> list[str]:
    """Addresses of this machine the node must not be reachable on."""
    addresses = ["127.0.0.2"]  # loopback, but not the configured host
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family == socket.AF_INET and not entry.address.startswith("127."):
                addresses.append(entry.address)
    return addresses


def test_every_actor_socket_listens_on_loopback_only(node: LocalNode) -> None:
    from runtime.processes import session_members

    pids = session_members(node.owner.handle.session_id)
    sockets = listening_sockets(pids)
    admin_port = node.config.actor_system.admin_port

    assert {pid for pid, _, _ in sockets} >= {a.pid for a in actors_by_name(node).values()}
    assert (node.owner.handle.admin_pid, "127.0.0.1", admin_port) in sockets
    assert [s for s in sockets if s[1] != "127.0.0.1"] == []
    for address in other_addresses():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, admin_port), timeout=2).close()


def test_supervision_lines_follow_the_contract_format(node: LocalNode) -> None:
    old_pid = actors_by_name(node)["chain"].pid
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: restarted(node, "chain", old_pid, 1), timeout=30,
               message="chain was not restarted")
    pattern = re.compile(
        r"supervision event=(child_exited|restart) supervisor=\w+ child=\w+ "
        r"reason=(killed|exited|hung|poison|error|escalated|shutdown) "
        r"decision=(restart|stop|escalate|resume) attempt=\d+ old_pid=(\d+|-) new_pid=(\d+|-)$"
    )
    wait_until(lambda: "event=restart" in log_text(node.config), timeout=10,
               message="no restart line")
    lines = [ln for ln in log_text(node.config).splitlines() if "supervision event=" in ln]
    assert len(lines) == 2
    for line in lines:
        assert pattern.search(line), line
        assert "pid=" in line.split("supervision", 1)[0]  # the line carries the logger's pid


def test_a_supervisor_past_its_intensity_escalates_and_its_parent_restarts_it(
    tmp_path: Path,
) -> None:
    tight = {"strategy": "one_for_one", "intensity": 1, "period_s": 60}
    with running_node(tmp_path, supervision={"supervisors": {"system_supervisor": tight}}) as node:
        first = actors_by_name(node)
        os.kill(first["stream"].pid, signal.SIGKILL)  # restart 1: within the intensity
        second = wait_until(lambda: restarted(node, "stream", first["stream"].pid, 1),
                            timeout=30, message="stream was not restarted")
        os.kill(second["stream"].pid, signal.SIGKILL)  # restart 2: more than the intensity

        after = wait_until(
            lambda: restarted(node, "system_supervisor", first["system_supervisor"].pid, 1),
            timeout=30, message="system_supervisor was not restarted after escalating")
        wait_until(lambda: all_running(node, CHILDREN_OF["system_supervisor"]),
                   timeout=30, message="the new subtree did not start")
        after = actors_by_name(node)
        assert after["stream"].restarts == 0  # a fresh child of a fresh supervisor
        assert {after[c].pid for c in ("chain", "bridge", "stream")}.isdisjoint(
            {first[c].pid for c in ("chain", "bridge", "stream")})
        log = log_text(node.config)
        assert ("supervision event=intensity_exceeded supervisor=system_supervisor child=stream "
                "reason=escalated decision=escalate attempt=2") in log
        assert (f"supervision event=restart supervisor=root child=system_supervisor "
                f"reason=escalated decision=restart attempt=1 "
                f"old_pid={first['system_supervisor'].pid} "
                f"new_pid={after['system_supervisor'].pid}") in log
        assert after["storage"].pid == first["storage"].pid  # the other subtree is untouched
