# Thespian's transports; the node reaches into IPBase, asyncTransportBase, TCPTransport,
# and (runtime/leanloop.py) the two records Thespian describes in its debug log.
from typing import Any

class TransmitIntent:
    message: Any
    def identify(self) -> str: ...

class ReceiveEnvelope:
    @property
    def message(self) -> Any: ...
    def identify(self) -> str: ...
