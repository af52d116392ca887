"""The names of the node's actors, as the config and every tool speak of them.

`supervision.tree` builds the tree from these names (a test checks that the
two agree); the config needs only the names, to key per-actor settings, so
it reads them here instead of importing the supervision layer.
"""

from __future__ import annotations

ROOT = "root"
SUPERVISORS: tuple[str, ...] = ("storage_supervisor", "system_supervisor")
WORKERS: tuple[str, ...] = ("storage", "chain", "bridge", "stream")
# Every actor, root first, depth first in start order (the order of supervision.tree).
ACTOR_NAMES: tuple[str, ...] = (ROOT, "storage_supervisor", "storage", "system_supervisor",
                                "chain", "bridge", "stream")
