# Thespian's TCP transport (thespian/system/transport/TCPTransport.py); runtime/frames.py
# replaces its serializer and acknowledgement frames and wraps two readers; runtime/leanloop.py
# gives it a selectors module of its own and wraps two more readers.
import selectors as selectors
import socket
from collections.abc import Callable
from typing import Any

from thespian.system.transport.streamBuffer import ReceiveBuffer as ReceiveBuffer
from thespian.system.transport.streamBuffer import toSendBuffer as toSendBuffer

# `pickle` until runtime/frames.py installs its tagged serializer.
serializer: Any
ackMsg: bytes
ackDataErrMsg: bytes

class TCPIncoming_Common:
    @property
    def socket(self) -> socket.socket | None: ...
    @property
    def data(self) -> tuple[Any, bytes] | None: ...

class TCPTransport:
    _XMITStepWaitForAck: int
    _check_XMIT_4_done: Callable[..., Any]
    _next_XMIT_4: Callable[..., Any]
    _handleReadableIncoming: Callable[..., Any]
