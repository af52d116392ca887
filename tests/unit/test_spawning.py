"""The spawner thread: calls run on it, and a process forked there starts on a short stack."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

import pytest

from supervision.spawning import Spawner

DEEP = 300  # frames below the fork in the caller, as under a few supervision levels


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def _at_depth(frames: int, function: Callable[[], int]) -> int:
    return function() if frames <= 0 else _at_depth(frames - 1, function)


class _Child:
    """Forks the way multiprocessing does: the child does its work inside the fork call
    and exits there, so it never returns to a caller that exists only in the parent."""

    def __init__(self, report: Callable[[], int]) -> None:
        self.report = report
        self.read_end, self.write_end = os.pipe()

    def fork(self) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                os.write(self.write_end, str(self.report()).encode())
            finally:
                os._exit(0)
        return pid

    def answer(self, pid: int) -> int:
        os.close(self.write_end)
        with os.fdopen(self.read_end, "rb") as pipe:
            answer = pipe.read()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return int(answer)


def test_calls_run_one_at_a_time_on_one_long_lived_thread() -> None:
    spawner = Spawner(name="spawner-test")
    names = {spawner.call(lambda: threading.current_thread().name) for _ in range(3)}
    idents = {spawner.call(threading.get_ident) for _ in range(3)}
    assert names == {"spawner-test"}
    assert len(idents) == 1 and threading.get_ident() not in idents


def test_arguments_go_in_and_the_result_comes_back() -> None:
    assert Spawner().call(pow, 2, 10) == 1024


def test_an_exception_is_raised_in_the_caller() -> None:
    def fail() -> None:
        raise ValueError("no such actor class")

    spawner = Spawner()
    with pytest.raises(ValueError, match="no such actor class"):
        spawner.call(fail)
    assert spawner.call(lambda: "still serving") == "still serving"


@pytest.mark.timeout(30)
def test_a_process_forked_there_starts_on_a_short_stack_however_deep_the_caller() -> None:
    spawner = Spawner()
    plain, spawned = _Child(_depth), _Child(_depth)
    direct = plain.answer(_at_depth(DEEP, plain.fork))
    through = spawned.answer(_at_depth(DEEP, lambda: spawner.call(spawned.fork)))
    assert direct > DEEP  # what a plain fork inherits: the test can tell the two apart
    assert through < 20


@pytest.mark.timeout(30)
def test_a_forked_child_that_spawns_again_gets_a_thread_of_its_own() -> None:
    spawner = Spawner()
    child = _Child(lambda: spawner.call(os.getpid))  # in the child: the parent's thread is gone
    pid = spawner.call(child.fork)
    assert child.answer(pid) == pid
