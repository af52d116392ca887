# Thespian's framing (thespian/system/transport/streamBuffer.py): `<length>>` and the
# serialized message.
from collections.abc import Callable
from typing import Any

ackPacket: str
ackDataErrPacket: str

def toSendBuffer(A: Any, ser: Callable[[Any], bytes] = ...) -> bytes: ...

class ReceiveBuffer:
    def __init__(self, serializer: Callable[[bytes], Any] = ...) -> None: ...
    def addMore(self, buf: bytes) -> None: ...
    def completed(self) -> tuple[Any, bytes] | None: ...
