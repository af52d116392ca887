"""Process titles that tell an operator which process of the node is which.

Thespian forks every actor from its parent, so without this `ps` shows seven
copies of the launcher's command line. Each actor renames its own process
once it knows who it is; the admin and logger get theirs from the launcher,
which is titled while it forks them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import setproctitle


def node_marker(node_id: str) -> str:
    """What every title of the node's processes starts with: the launcher's leftovers
    check ends a process of an earlier run only if its command line carries it."""
    return f"alys-node[{node_id}]"


def actor_title(node_id: str, name: str, actor_class: type) -> str:
    return f"{node_marker(node_id)} {name} ({actor_class.__module__}:{actor_class.__qualname__})"


def set_title(title: str) -> None:
    setproctitle.setproctitle(title)


@contextmanager
def titled(title: str) -> Iterator[None]:
    """Carry `title` while the block runs (processes forked in it keep it)."""
    original = setproctitle.getproctitle()
    setproctitle.setproctitle(title)
    try:
        yield
    finally:
        setproctitle.setproctitle(original)
