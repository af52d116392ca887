"""OS-process facts and actions the supervisors and the launcher rely on.

Thespian forks one process per actor but leaves a child running when its
parent dies, and the admin daemonizes into a session of its own. Two tools
follow from that:

- every actor asks the kernel to SIGKILL it when its parent process dies
  (`die_with_parent`), so a killed supervisor never leaves a second set of
  children beside the ones its replacement creates;
- every process of one actor system shares the admin's session id, so "all
  processes of the node" is `session_members(sid)`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import time
from collections.abc import Iterable

import psutil

_PR_SET_PDEATHSIG = 1


class ParentGoneError(RuntimeError):
    """The process that created this one died before it could be tied to it."""


def die_with_parent(expected_parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """Have the kernel send `signum` to this process when its parent dies (Linux only).

    The setting is not inherited across fork, so each actor calls this for
    itself. The kernel only signals deaths after the call: if the parent died
    before it, this process was already re-parented and would never get the
    signal, so raise `ParentGoneError` and let the caller exit.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    args = (_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if libc.prctl(*(ctypes.c_ulong(a) for a in args)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    if os.getppid() != expected_parent_pid:
        raise ParentGoneError(
            f"parent pid {expected_parent_pid} is already gone (now re-parented to {os.getppid()})"
        )


def is_alive(pid: int) -> bool:
    """True while `pid` names a process that is not a zombie.

    Only "no such process" counts as dead: a process we may not inspect, or
    one psutil fails to read for a moment, is alive as far as we know.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def session_members(sid: int) -> list[int]:
    """Pids of the live processes whose session id is `sid`."""
    members = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and is_alive(pid):
                members.append(pid)
        except OSError:
            continue
    return members


def listening_pid(port: int) -> int | None:
    """The pid of the process listening on TCP `port` (any address), if any."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def kill_all(pids: Iterable[int], *, grace_s: float = 2.0) -> list[int]:
    """SIGTERM the given processes, SIGKILL whichever is alive after `grace_s`.

    Returns the pids that were alive when asked. Children of ours are reaped by
    psutil's wait; others are re-parented to init, which reaps them.
    """
    targets = []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, signal.SIGTERM)
            targets.append(pid)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
    deadline = time.monotonic() + grace_s
    procs = []
    for pid in targets:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=max(0.0, deadline - time.monotonic()))
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace_s)
    return targets


def wait_gone(pids: Iterable[int], timeout_s: float) -> list[int]:
    """Wait until none of `pids` is alive (or the timeout); return those still alive."""
    deadline = time.monotonic() + timeout_s
    remaining = [p for p in pids if is_alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.02)
        remaining = [p for p in remaining if is_alive(p)]
    return remaining


def kill_now(pid: int) -> bool:
    """SIGKILL one process; False if it was already gone."""
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False
