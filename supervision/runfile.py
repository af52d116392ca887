"""The run file, and the processes an earlier run of the same node left behind.

Thespian leaves every actor alive when its admin is SIGKILLed, one of them
holding the admin port, so that the next start fails. The launcher records
what identifies its run (its own pid, the admin's session id, the mock
server's pid) in `node-<admin port>.json`; the next start reads it:

- the recorded launcher still runs: refuse, and say how to stop it;
- it does not: end every process of the recorded session, and the mock server.

Ports still taken after that belong to something else: refuse, naming the pid.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from runtime.processes import is_alive, kill_all, listening_pid, session_members


@dataclass(frozen=True)
class RunRecord:
    launcher_pid: int
    admin_port: int
    session_id: int | None = None
    admin_pid: int | None = None
    mock_pid: int | None = None


class RunConflictError(Exception):
    """Another process (an earlier run of this node, or something else) is in the way."""


def write(path: Path, record: RunRecord) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(tmp, path)


def read(path: Path) -> RunRecord | None:
    try:
        return RunRecord(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        return None  # unreadable: nothing trustworthy to act on; the port checks still run


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


LEFTOVER_ROUNDS = 5


def clear_leftovers(path: Path, *, config_source: str) -> list[int]:
    """End what a dead earlier run left; raise if that run is still alive."""
    record = read(path)
    if record is None:
        return []
    if record.launcher_pid != os.getpid() and is_alive(record.launcher_pid) and (
        "supervision.launcher" in _cmdline(record.launcher_pid)
    ):
        raise RunConflictError(
            f"a node is already running on admin port {record.admin_port} "
            f"(launcher pid {record.launcher_pid}): stop it with `kill -TERM "
            f"{record.launcher_pid}`, or set another actor_system.admin_port in {config_source}"
        )
    ended = []
    if record.mock_pid and is_alive(record.mock_pid) and (
        "mock_governance" in _cmdline(record.mock_pid)
    ):
        ended += kill_all([record.mock_pid])
    # A supervisor of the dead run may restart a child it just saw exit while
    # the others are being ended: look again until the session is empty.
    for _ in range(LEFTOVER_ROUNDS):
        leftovers = session_members(record.session_id) if record.session_id else []
        if not leftovers:
            break
        ended += kill_all(leftovers)
    path.unlink(missing_ok=True)
    return ended


def require_free_ports(ports: dict[str, int], *, config_source: str) -> None:
    """Refuse to start if any port the node needs is already listened on."""
    for key, port in ports.items():
        pid = listening_pid(port)
        if pid is not None:
            raise RunConflictError(
                f"port {port} ({key}) is in use by pid {pid} ({_cmdline(pid)}): stop that "
                f"process or change {key} in {config_source}"
            )
