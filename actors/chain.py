"""ChainActor: federation state, block height and the activation schedule.

In the foundation it runs in its own process under the system supervisor and
answers pings; federation updates arrive with the peg-out work.
"""

from __future__ import annotations

from actors.base import NodeActor


class ChainActor(NodeActor):
    name = "chain"
