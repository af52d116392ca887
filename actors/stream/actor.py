"""StreamActor: owns the governance stream.

In the foundation it runs in its own process under the system supervisor,
answers pings and reports its connection as `disconnected`; the gRPC stream
itself (created inside this process, never before a fork) is the stream work.
"""

from __future__ import annotations

from typing import Any

from actors.base import NodeActor
from actors.messages import ConnectionStatus, GetConnectionStatus


class StreamActor(NodeActor):
    name = "stream"

    def receiveMsg_GetConnectionStatus(self, message: GetConnectionStatus, sender: Any) -> None:
        self.send(sender, ConnectionStatus(state="disconnected"))
