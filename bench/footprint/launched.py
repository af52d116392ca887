"""A node under `scripts/start`, as an operator runs it, and proof that it is gone.

Its stdout goes to a file (the daemonized Thespian admin inherits it, and a
pipe would never close). A stop is SIGTERM to the launcher, then proof: no
process of the node left, every port of its config free; whatever is left
is killed and reported, since a figure measured beside a leftover is not
trusted.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from harness.launcher import Launched, launch, stop
from harness.ports import port_is_free
from runtime.processes import is_alive, kill_all, listening_pid, session_members, wait_gone

READY_TIMEOUT_S = 90.0
# The clock of a start-up run: the ready line is looked for this often (its resolution).
READY_POLL_S = 0.005
GONE_TIMEOUT_S = 15.0


@dataclass
class StartedNode:
    launched: Launched
    ports: dict[str, int]
    admin_pid: int
    session_id: int
    ready_s: float  # launch to the `ready:` line
    pids: set[int] = field(default_factory=set)  # every process of it seen so far


def config_ports(config_path: Path) -> dict[str, int]:
    document = yaml.safe_load(config_path.read_text())
    mock = document["governance"]["mock"]
    ports = {"actor_system.admin_port": document["actor_system"]["admin_port"],
             "metrics.port": document["metrics"]["port"]}
    if mock.get("enabled"):
        ports.update({"governance.mock.port": mock["port"],
                      "governance.mock.control_port": mock["control_port"]})
    return ports


def wait_ready_line(launched: Launched, started: float) -> float:
    """Seconds from `started` to the `ready:` line in the launcher's output."""
    deadline = started + READY_TIMEOUT_S
    while True:
        # The line first, the exit after: a launcher that printed ready and died at once
        # counts as started here, and `stop_node` reports its exit code.
        if any(line.startswith("ready:") for line in launched.text().splitlines()):
            return time.perf_counter() - started
        if launched.process.poll() is not None:
            raise RuntimeError(f"scripts/start exited with {launched.process.returncode} "
                               f"before ready: {launched.text()[-2000:]}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"scripts/start printed no ready: line within "
                               f"{READY_TIMEOUT_S:g}s: {launched.text()[-2000:]}")
        time.sleep(READY_POLL_S)


def node_pids(node: StartedNode) -> set[int]:
    """The launcher, its children (the mock) and every process of the actor system's session.

    The admin daemonizes out of the launcher's process tree into a session of its own,
    so the launcher's descendants alone would miss it and every actor."""
    pids = {node.launched.process.pid, *session_members(node.session_id)}
    with suppress(psutil.NoSuchProcess):
        pids |= {child.pid for child in psutil.Process(node.launched.process.pid)
                 .children(recursive=True)}
    return {pid for pid in pids if is_alive(pid)}


@contextmanager
def bytecode_cache(enabled: bool = True) -> Iterator[dict[str, str] | None]:
    """The environment for `scripts/start` with a bytecode cache of its own, or None (inherit).

    Python caches compiled modules unless told not to; a node on a server starts with that
    cache warm. A shell with PYTHONDONTWRITEBYTECODE=1 (this machine's has it) makes every
    start compile the project's modules again, which is time and heap no deployment pays.
    A private cache (PYTHONPYCACHEPREFIX) gives the usual behaviour without writing into
    the repo; the first start fills it, so callers start once uncounted."""
    if not enabled:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="alys-bench-pyc-") as cache:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
        yield env


def start_node(config_path: Path, output: Path, env: dict[str, str] | None) -> StartedNode:
    started = time.perf_counter()
    launched = launch(config_path, output, env)
    try:
        ready_s = wait_ready_line(launched, started)
        ports = config_ports(config_path)
        admin_pid = listening_pid(ports["actor_system.admin_port"])
        if admin_pid is None:
            raise RuntimeError("ready, yet nothing listens on the admin port")
        node = StartedNode(launched, ports, admin_pid, os.getsid(admin_pid), ready_s)
        node.pids = node_pids(node)
    except BaseException:
        # A launcher that is up to something but not ready: end it, and what it started.
        stop(launched)
        raise
    return node


def stop_node(node: StartedNode) -> None:
    """SIGTERM the launcher and prove the node gone: no process left, every port free.

    What is left after the launcher's own stop is killed (this benchmark started it)
    and reported as an error: a figure measured beside a leftover is not trusted."""
    node.pids |= node_pids(node)  # a restarted actor has a pid not seen at start
    code = stop(node.launched)
    left = wait_gone(node.pids | set(session_members(node.session_id)), GONE_TIMEOUT_S)
    deadline = time.monotonic() + GONE_TIMEOUT_S
    busy = dict(node.ports)
    while busy and time.monotonic() < deadline:
        busy = {key: port for key, port in busy.items() if not port_is_free(port)}
        if busy:
            time.sleep(0.05)
    if left:
        kill_all(left)
    problems = []
    if code != 0:
        problems.append(f"scripts/start exited with {code}")
    if left:
        problems.append(f"processes left after the stop (killed now): {sorted(left)}")
    if busy:
        problems.append(f"ports still in use: {busy}")
    if problems:
        raise RuntimeError("; ".join(problems) + f"\n{node.launched.text()[-2000:]}")


@contextmanager
def running(config_path: Path, output: Path,
            env: dict[str, str] | None = None) -> Iterator[StartedNode]:
    node = start_node(config_path, output, env)
    try:
        yield node
    finally:
        stop_node(node)
