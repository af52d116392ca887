"""The run file, and the processes an earlier run of the same node left behind.

Thespian leaves every actor alive when its admin is SIGKILLed, one of them
holding the admin port, so that the next start fails. The launcher records
what identifies its run in `node-<admin port>.json`: its own pid, the admin's
pid and session id, the mock server's pid, each process's start time, and the
node id its processes' titles carry (`runtime.titles.node_marker`). The next
start reads it:

- the recorded launcher still runs (same pid, same start time): refuse, and
  say how to stop it;
- it does not: end the processes of the recorded session and the mock server,
  each only after checking that it is the node's: its command line carries
  the node's marker (or, for the admin, its logger and an actor not yet
  started, the title Thespian gives a process it forks), and it started when
  the record says (the mock, the admin) or after the admin did (every other
  member of the session).

A pid, and with it a session id, may have been reused since the run file was
written. A session whose leader is alive with another start time than the
admin's belongs to someone else: it is left alone, and said so. (While any
member of a session lives, Linux does not reuse its id; so a session whose
leader is gone is still the recorded one, and its members are checked one by
one.) A run file of an older format, without start times, is not acted on.

Ports still taken after that belong to something else: refuse, naming the pid.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from runtime.processes import is_alive, kill_all, listening_pid, session_members
from runtime.titles import node_marker

# psutil derives a start time from the boot time and the start tick: the same process
# always reads the same value; the margin only absorbs float rounding.
START_TIME_MARGIN_S = 0.05
LEFTOVER_ROUNDS = 5


@dataclass(frozen=True)
class RunRecord:
    launcher_pid: int
    admin_port: int
    session_id: int | None = None
    admin_pid: int | None = None
    mock_pid: int | None = None
    node_id: str | None = None
    # Process start times (seconds since the epoch, as psutil reads them).
    launcher_started: float | None = None
    admin_started: float | None = None
    mock_started: float | None = None


@dataclass
class Leftovers:
    """What `clear_leftovers` did: the pids it ended, and what it left alone, and why."""

    ended: list[int] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)


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


def started_at(pid: int) -> float | None:
    """The start time of process `pid`, or None if it is gone (or may not be read)."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _cmdline(pid: int) -> str:
    try:
        # setproctitle pads a title with spaces to the length of the original command line.
        return " ".join(psutil.Process(pid).cmdline()).strip()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


# Thespian titles a process it forks `<class name> <its address>` (the admin
# `MultiProcAdmin ActorAddr-(T|:<admin port>)`, the logger `logger ActorAddr-(T|:…)`);
# the node's actors retitle themselves with the marker once started.
_THESPIAN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]* ActorAddr-\(T\|[^)]*\)")


def is_node_process(pid: int, marker: str, not_before: float) -> bool:
    """`pid` carries the node's marker (or Thespian's title for a process it forked) and
    started no earlier than `not_before`, the recorded admin's start."""
    command = _cmdline(pid)
    start = started_at(pid)
    return ((marker in command or _THESPIAN_TITLE.fullmatch(command) is not None)
            and start is not None and start >= not_before - START_TIME_MARGIN_S)


def _same_start(pid: int, recorded: float | None) -> bool:
    actual = started_at(pid)
    return (recorded is not None and actual is not None
            and abs(actual - recorded) <= START_TIME_MARGIN_S)


def clear_leftovers(path: Path, *, config_source: str) -> Leftovers:
    """End what a dead earlier run left, each process once proved the node's; raise if
    that run is still alive."""
    record = read(path)
    result = Leftovers()
    if record is None:
        return result
    launcher = record.launcher_pid
    if launcher != os.getpid() and is_alive(launcher) and (
        "supervision.launcher" in _cmdline(launcher)
    ) and (record.launcher_started is None or _same_start(launcher, record.launcher_started)):
        raise RunConflictError(
            f"a node is already running on admin port {record.admin_port} "
            f"(launcher pid {launcher}): stop it with `kill -TERM "
            f"{launcher}`, or set another actor_system.admin_port in {config_source}"
        )
    if record.node_id is None or record.admin_started is None:
        result.left_alone.append(
            f"run file {path} has no start times (an older format): nothing of it was ended")
        path.unlink(missing_ok=True)
        return result
    _end_mock(record, result)
    _end_session(record, node_marker(record.node_id), result)
    path.unlink(missing_ok=True)
    return result


def _end_mock(record: RunRecord, result: Leftovers) -> None:
    pid = record.mock_pid
    if not pid or not is_alive(pid):
        return
    if "mock_governance" in _cmdline(pid) and _same_start(pid, record.mock_started):
        result.ended += kill_all([pid])
    else:
        result.left_alone.append(
            f"pid {pid} is not the recorded mock governance server (command line "
            f"{_cmdline(pid)!r}, started {started_at(pid)}, recorded {record.mock_started})")


def _end_session(record: RunRecord, marker: str, result: Leftovers) -> None:
    session = record.session_id
    if not session:
        return
    assert record.admin_started is not None  # checked by the caller
    leader_ours = (is_node_process(session, marker, record.admin_started)
                   and (session != record.admin_pid
                        or _same_start(session, record.admin_started)))
    if is_alive(session) and not leader_ours:
        result.left_alone.append(
            f"session {session} is not the recorded node's: its leader (pid {session}, "
            f"{_cmdline(session)!r}) started at {started_at(session)}, the node's admin at "
            f"{record.admin_started}")
        return
    foreign: set[int] = set()
    # A supervisor of the dead run may restart a child it just saw exit while
    # the others are being ended: look again until the session holds none of ours.
    for _ in range(LEFTOVER_ROUNDS):
        ours = []
        for pid in session_members(session):
            if pid in foreign:
                continue
            if is_node_process(pid, marker, record.admin_started):
                ours.append(pid)
            else:
                foreign.add(pid)
                result.left_alone.append(
                    f"pid {pid} in session {session} is not the node's (command line "
                    f"{_cmdline(pid)!r}, started {started_at(pid)})")
        if not ours:
            break
        result.ended += kill_all(ours)


def require_free_ports(ports: dict[str, int], *, config_source: str) -> None:
    """Refuse to start if any port the node needs is already listened on."""
    for key, port in ports.items():
        pid = listening_pid(port)
        if pid is not None:
            raise RunConflictError(
                f"port {port} ({key}) is in use by pid {pid} ({_cmdline(pid)}): stop that "
                f"process or change {key} in {config_source}"
            )
