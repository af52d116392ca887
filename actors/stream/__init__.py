"""The StreamActor and its parts: the node's one gateway to Anduro Governance."""
