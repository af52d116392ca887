# Thespian's transports; the node reaches into IPBase, asyncTransportBase, TCPTransport,
# and (runtime/leanloop.py) the two records Thespian describes in its debug log.
from typing import Any

# identify(): a runtime.leanloop.Description once that module is installed, which
# formats as the text; `object` so that nothing can take it for a str.
class TransmitIntent:
    message: Any
    def identify(self) -> object: ...

class ReceiveEnvelope:
    @property
    def message(self) -> Any: ...
    def identify(self) -> object: ...
