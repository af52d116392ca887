"""BridgeActor: the peg-out lifecycle, witness assembly and broadcast.

In the foundation it runs in its own process under the system supervisor and
answers pings; the signature flow arrives with the peg-out work.
"""

from __future__ import annotations

from actors.base import NodeActor


class BridgeActor(NodeActor):
    name = "bridge"
