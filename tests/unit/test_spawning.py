"""Calls through `on_fresh_stack_chunk` never sit on a stack-chunk boundary, at any depth.

CPython 3.11 maps and unmaps a stack chunk each time a call crosses a chunk
boundary and returns; the process takes a page fault each time. So a loop
of calls that sits on a boundary shows as one minor page fault per call, and
one that does not shows none: that is what these tests count.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable

import pytest

from supervision.spawning import on_fresh_stack_chunk

DEPTHS = range(400)  # wider than a 16 KiB chunk of these frames
CALLS = 2000


def _leaf(value: int) -> int:
    return value


def _faults_of_a_loop() -> int:
    """Minor page faults taken by CALLS calls of a tiny function from here."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for value in range(CALLS):
        _leaf(value)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _at_depth(frames: int, function: Callable[[], int]) -> int:
    return function() if frames <= 0 else _at_depth(frames - 1, function)


def _worst_over_depths(through: Callable[[Callable[[], int]], int]) -> int:
    return max(_at_depth(depth, lambda: through(_faults_of_a_loop)) for depth in DEPTHS)


def test_the_call_gets_its_arguments_and_its_result_comes_back() -> None:
    assert on_fresh_stack_chunk(pow, 2, 10) == 1024


def test_an_exception_raised_by_the_call_reaches_the_caller() -> None:
    def fail() -> None:
        raise ValueError("no such actor class")

    with pytest.raises(ValueError, match="no such actor class"):
        on_fresh_stack_chunk(fail)


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="3.13+ keeps a spare chunk")
def test_a_plain_call_loop_thrashes_at_some_depth() -> None:
    # The control: without the fresh chunk, some depth puts the loop on a boundary.
    assert _worst_over_depths(lambda function: function()) >= CALLS


def test_a_loop_run_through_it_takes_no_faults_at_any_depth() -> None:
    assert _worst_over_depths(lambda function: on_fresh_stack_chunk(function)) < CALLS // 20


@pytest.mark.timeout(60)
def test_a_child_forked_through_it_takes_no_faults_at_any_depth() -> None:
    """As a supervisor forks an actor: the child runs its loop where the fork left it."""
    worst = 0
    for depth in range(0, 400, 7):
        read_end, write_end = os.pipe()

        def fork_and_measure(write_end: int = write_end) -> int:
            pid = os.fork()
            if pid == 0:  # the child measures where it stands and never returns
                try:
                    os.write(write_end, str(_faults_of_a_loop()).encode())
                finally:
                    os._exit(0)
            return pid

        pid = _at_depth(depth, lambda: on_fresh_stack_chunk(fork_and_measure))
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            faults = int(pipe.read())
        os.waitpid(pid, 0)
        worst = max(worst, faults)
    assert worst < CALLS // 20
