"""Fork child actors from the start of a fresh Python stack chunk, so no actor's loop sits on a
chunk boundary.

Why: CPython 3.11 keeps a thread's Python frames in chunks of at least
16 KiB and frees a chunk as soon as the frame at its base returns
(python/cpython#142183; 3.13 and later keep a spare chunk). A forked process
goes on running on top of the stack its parent had at the fork, and Thespian
forks a child deep inside the parent's message handling, so where the
child's chunk boundaries fall depends on how deep every process above it
was. Where a child's message loop happens to sit just below a boundary,
every call across it maps a fresh chunk and unmaps it on return. Measured on
the bridge at 100 peg-outs/s: about 2,100 mmap/munmap pairs and 18,000 page
faults a second, and a peg-out took 13.4 ms end to end one at a time instead
of 7 ms.

`on_fresh_stack_chunk(call, *args)` runs `call` from a frame that reserves
4,096 evaluation-stack slots (32 KiB) it never uses. That frame cannot fit
in the chunk in use, so the interpreter starts a new chunk for it, sized
for the frame plus 8,000 bytes of headroom and rounded up to a power of two:
64 KiB, which leaves about 31 KiB after it. Everything `call` runs, and in
a child forked there everything the child ever runs (its bootstrap, its
Thespian loop, its handlers), lives in that room, far from any boundary.
On later CPythons the frame is only an unused reservation.

(Forking from a helper thread with a short stack removed the thrash too.
But with it, the escalation chaos test lost the root's `_GivingUp` and saw
the Thespian admin die in 2 of 6 runs, for reasons not found. So the fork
stays on the supervisor's own thread, as before.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Slots, 8 bytes each. CPython 3.11 (Python/pystate.c, push_chunk) sizes a new chunk as
# the smallest power-of-two multiple of 16 KiB holding the frame plus 1,000 slots.
RESERVED_STACK_SLOTS = 4096


def on_fresh_stack_chunk(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, run from the start of a fresh data-stack chunk (see the module's doc)."""
    return call(*args)


on_fresh_stack_chunk.__code__ = on_fresh_stack_chunk.__code__.replace(
    co_stacksize=on_fresh_stack_chunk.__code__.co_stacksize + RESERVED_STACK_SLOTS)
