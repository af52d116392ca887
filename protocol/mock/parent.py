"""Die with the parent process (Linux prctl PR_SET_PDEATHSIG), so a crashed
test run or launcher never leaves a mock server holding its ports."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from protocol.mock.errors import MockStartupError

_PR_SET_PDEATHSIG = 1


class ParentGone(MockStartupError):
    def __init__(self, expected_parent: int, actual_parent: int) -> None:
        super().__init__(
            f"parent process {expected_parent} is already gone (now parented to {actual_parent})"
        )


def exit_with_parent(expected_parent: int, signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``signum`` when the parent dies.

    The kernel only signals deaths that happen after the prctl call, so
    afterwards we check the parent is still ``expected_parent``: if it died in
    between, we were re-parented and must not keep running.
    """
    if not sys.platform.startswith("linux"):
        raise MockStartupError("--exit-with-parent needs Linux (prctl PR_SET_PDEATHSIG)")
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.prctl(
        ctypes.c_int(_PR_SET_PDEATHSIG),
        ctypes.c_ulong(signum),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise MockStartupError(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    actual = os.getppid()
    if actual != expected_parent:
        raise ParentGone(expected_parent, actual)
