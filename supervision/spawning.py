"""Fork child actors from a thread of their own, so that every child runs on a short Python stack.

Why: CPython 3.11 keeps a thread's Python frames in 16 KiB chunks and frees
a chunk as soon as the frame at its base returns (python/cpython#142183;
only 3.13 and later keep a spare chunk). A forked process goes on running on
top of the stack its parent had at the fork, and Thespian forks a child deep
inside the parent's message handling, so each level of the supervision tree
adds the depth of the one above. Where a child's message loop happens to sit
just below a chunk boundary, every call that crosses it maps a fresh chunk
and unmaps it on return. Measured on the bridge at 100 peg-outs/s: about
2,100 mmap/munmap pairs and 18,000 page faults a second, and a peg-out took
13.4 ms end to end one at a time instead of 6.9 ms; which actor suffers
depended on how deep the process that started the node was when it did.

A `Spawner` thread waits for work on an almost empty stack; the supervisor's
own thread hands it the `createActor` call and waits for the result, so
Thespian is still used by one thread at a time. The thread lives as long as
the process: the kernel's parent-death signal (`die_with_parent`) belongs to
the thread that forked, so a short-lived thread would take its children with it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _Job:
    __slots__ = ("args", "done", "error", "function", "result")

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.function = function
        self.args = args
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Spawner:
    """Runs calls (forks) on one long-lived thread of this process, one at a time."""

    def __init__(self, name: str = "spawner") -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the spawner thread; its result, or its exception raised here."""
        self._ensure_thread()
        job = _Job(function, args)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _ensure_thread(self) -> None:
        # Threads do not survive a fork: a child that inherited this object starts its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        self._jobs = queue.SimpleQueue()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            try:
                job.result = job.function(*job.args)
            except BaseException as exc:  # handed to the caller, who decides
                job.error = exc
            finally:
                job.done.set()
