"""StorageActor: the only writer of the node's durable state.

In the foundation it runs in its own process under the storage supervisor and
answers pings; the SQLite store arrives with the peg-out work.
"""

from __future__ import annotations

from actors.base import NodeActor


class StorageActor(NodeActor):
    name = "storage"
