"""BridgeActor: the peg-out lifecycle, witness assembly and broadcast.

So far it takes governance's answers to signature requests from the
StreamActor and confirms each with `Handled`, so the stream's at-least-once
routing can let go of it; verifying the signatures and building the signed
transaction is the peg-out work.
"""

from __future__ import annotations

from typing import Any

from actors.base import NodeActor
from actors.messages import ApplySignatures, Handled


class BridgeActor(NodeActor):
    name = "bridge"

    def receiveMsg_ApplySignatures(self, message: ApplySignatures, sender: Any) -> None:
        self.log.debug("signatures for %s: %s, %d witnesses", message.request_id, message.status,
                      len(message.signatures))
        self.send(sender, Handled(message.request_id))
