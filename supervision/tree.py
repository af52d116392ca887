"""The node's supervisor tree, as data.

```
root                      supervision.root:RootSupervisor   (globalName alys.root)
├─ storage_supervisor     supervision.supervisor:Supervisor
│  └─ storage             actors.storage.actor:StorageActor
└─ system_supervisor      supervision.supervisor:Supervisor
   ├─ chain               actors.chain.actor:ChainActor
   ├─ bridge              actors.bridge.actor:BridgeActor
   └─ stream              actors.stream.actor:StreamActor
```

Children start in the order listed; the StreamActor comes last so that the
actors it routes to already run when its stream opens.
"""

from __future__ import annotations

from actors.front_desk import ROOT_GLOBAL_NAME
from actors.lifecycle import _ChildSpec
from nodeconfig.names import SUPERVISORS, WORKERS

__all__ = ["NODE_CHILDREN", "ROOT_GLOBAL_NAME", "SUPERVISORS", "WORKERS", "actor_names"]

SUPERVISOR_CLASS = "supervision.supervisor:Supervisor"

NODE_CHILDREN: tuple[_ChildSpec, ...] = (
    _ChildSpec(
        "storage_supervisor",
        SUPERVISOR_CLASS,
        children=(_ChildSpec("storage", "actors.storage.actor:StorageActor"),),
    ),
    _ChildSpec(
        "system_supervisor",
        SUPERVISOR_CLASS,
        children=(
            _ChildSpec("chain", "actors.chain.actor:ChainActor"),
            _ChildSpec("bridge", "actors.bridge.actor:BridgeActor"),
            _ChildSpec("stream", "actors.stream.actor:StreamActor"),
        ),
    ),
)


def actor_names() -> tuple[str, ...]:
    """Every actor of the node, root first, depth first in start order."""

    def walk(specs: tuple[_ChildSpec, ...]) -> list[str]:
        names: list[str] = []
        for spec in specs:
            names.append(spec.name)
            names.extend(walk(spec.children))
        return names

    return ("root", *walk(NODE_CHILDREN))


# The names themselves live in nodeconfig.names (the config keys per-actor settings by
# them); tests/unit/test_layers.py checks that the tree builds exactly those.
