"""ChainActor: federation state, block height and the activation schedule.

So far it takes federation updates and proposals from the StreamActor and
confirms each with `Handled`, so the stream's at-least-once routing can let
go of it; validating, scheduling and persisting them is the peg-out work.
"""

from __future__ import annotations

from typing import Any

from actors.base import NodeActor
from actors.messages import Handled, ProposalReceived, UpdateFederation


class ChainActor(NodeActor):
    name = "chain"

    def receiveMsg_UpdateFederation(self, message: UpdateFederation, sender: Any) -> None:
        self.log.debug("federation update %s: version %d, %s, %d members, threshold %d",
                      message.request_id, message.version, message.update_type,
                      len(message.members), message.threshold)
        self.send(sender, Handled(message.request_id))

    def receiveMsg_ProposalReceived(self, message: ProposalReceived, sender: Any) -> None:
        self.log.debug("proposal %s: %s", message.proposal_id, message.proposal_type)
        self.send(sender, Handled(message.proposal_id))
