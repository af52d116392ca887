"""Make Thespian's TCP loop cheaper per message, without changing what it does.

A message between two of the node's actors cost both processes together about
370 µs of CPU on this project's machines (`python -m bench.hop_cost`), and a
peg-out makes about eight such hops. Three costs in each hop were pure overhead.
This module removes them for this process and every process forked from it
afterwards (the Thespian admin, its logger and every actor are forked), like the
adaptations in `runtime/loopback.py` and `runtime/frames.py`. Call `install()`
before the process's first `ActorSystem(...)`.

- **One poll(2) per pass.** Thespian's loop (`TCPTransport._runWithExpiry`) builds
  a new `selectors.DefaultSelector` on every pass: an epoll instance created,
  each socket added to it, waited on and closed, four or more system calls and a
  `SelectorKey` per socket for what one `poll(2)` call does. A hop makes about
  five passes. The transport's module gets `OnePollSelector` in its place, which
  keeps the selector's contract as Thespian uses it: a descriptor registered
  twice raises `KeyError`, a negative one `ValueError`, and a closed one
  `OSError(EBADF)` (epoll refuses it at `register`; poll reports it from
  `select`), so Thespian's recovery from a bad descriptor runs as before.
- **A frame read in one pass.** Thespian reads a frame's length first (20 bytes)
  and then exactly the rest, so that it never reads into the next frame; but it
  reads the rest only on the next pass of the loop, although the sender wrote the
  frame with one `send` and it is nearly always waiting already. So every message
  took two passes to arrive, and every acknowledgement too (50 bytes tagged by
  `runtime/frames.py`, 21 untagged: one more than the first read). The reader of a message
  (`TCPTransport._handleReadableIncoming`) and of an acknowledgement
  (`TCPTransport._next_XMIT_4`) now read on in the same pass while the socket has
  bytes waiting (`FIONREAD` counts them, reading nothing and leaving a pending
  socket error for Thespian's own read to meet), up to `READS_PER_PASS` reads.
  When nothing is waiting they stop, as Thespian's next pass would find, so no
  read ever meets an empty socket (Thespian would take that for trouble and pause
  the socket); a peer's end of stream, too, is left to the next pass, as before.
- **A message described only when the description is logged.** Thespian logs
  every send twice and every receipt once at DEBUG, and builds the line's
  argument, `identify()`, before its logger discards it: a `str()` of the whole
  message, a `Batch` of a hundred included. `identify()` now returns a
  `Description` that builds the same text when it is formatted; `str()` of an
  intent or an envelope is unchanged, and a `Description` pickles as its text
  (a log record may travel to Thespian's logger).

Measured with `python -m bench.hop_cost --cpus 0`: 370 µs of CPU a hop before,
about 215 µs after (the poll saves about 60, the descriptions about 25, the
reading on about 75); on 2 cores a hop takes 127 µs instead of 330.
"""

from __future__ import annotations

import errno
import fcntl
import math
import select
import selectors
import socket
import sys
import termios
import types
from collections.abc import Callable
from typing import Any

import thespian.system.transport.TCPTransport as tcp
from thespian.system.transport import ReceiveEnvelope, TransmitIntent

# As selectors.PollSelector reads poll's answer: anything but "readable" also wakes a
# writer (an error or a hang-up must reach it), anything but "writable" wakes a reader.
_POLL_READ = select.POLLIN
_POLL_WRITE = select.POLLOUT


class ReadyKey:
    """What `select` hands back for a ready descriptor: Thespian reads only `fd`."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __repr__(self) -> str:
        return f"ReadyKey(fd={self.fd})"


class OnePollSelector:
    """A selector for one pass of the loop: registered, selected once, dropped.

    It makes no system call until `select`, and then exactly one."""

    __slots__ = ("_poll", "_wanted")

    def __init__(self) -> None:
        self._poll = select.poll()
        self._wanted: dict[int, int] = {}  # fd -> selectors.EVENT_READ | EVENT_WRITE

    def register(self, fileobj: Any, events: int) -> None:
        fd = fileobj if isinstance(fileobj, int) else int(fileobj.fileno())
        if fd < 0:
            raise ValueError(f"Invalid file descriptor: {fd}")
        if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        if fd in self._wanted:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        self._wanted[fd] = events
        self._poll.register(fd, (_POLL_READ if events & selectors.EVENT_READ else 0)
                            | (_POLL_WRITE if events & selectors.EVENT_WRITE else 0))

    def select(self, timeout: float | None = None) -> list[tuple[ReadyKey, int]]:
        if timeout is None:
            wait_ms: int | None = None
        elif timeout <= 0:
            wait_ms = 0
        else:
            wait_ms = math.ceil(timeout * 1000)  # rounded up, as selectors does
        ready = []
        for fd, polled in self._poll.poll(wait_ms):
            if polled & select.POLLNVAL:
                raise OSError(errno.EBADF, f"file descriptor {fd} is not open")
            events = 0
            if polled & ~_POLL_READ:
                events |= selectors.EVENT_WRITE
            if polled & ~_POLL_WRITE:
                events |= selectors.EVENT_READ
            ready.append((ReadyKey(fd), events & self._wanted[fd]))
        return ready

    def close(self) -> None:
        self._wanted.clear()


# The transport looks its selector up as `selectors.DefaultSelector` at each pass: it gets
# a module of its own, the standard one with this selector as the default.
_SELECTORS_FOR_THESPIAN = types.ModuleType("selectors", "selectors; OnePollSelector by default")
_SELECTORS_FOR_THESPIAN.__dict__.update(
    {name: value for name, value in vars(selectors).items() if not name.startswith("__")},
    DefaultSelector=OnePollSelector)


# A frame larger than this many reads of Thespian's (1,000,000 bytes each) gives the loop
# a turn between them, as before, so that one large frame does not hold up other sockets.
READS_PER_PASS = 8
_NO_BYTES = bytes(4)  # FIONREAD's answer, an int, comes back in a copy of this
_ORIGINAL_READ_INCOMING = tcp.TCPTransport._handleReadableIncoming
_ORIGINAL_READ_ACK = tcp.TCPTransport._next_XMIT_4


def bytes_waiting(sock: socket.socket | None) -> bool:
    """Whether `sock` has bytes to read now; nothing read, nothing cleared.

    Not a `recv(MSG_PEEK)`: on Linux that consumes a pending socket error, which
    Thespian's own read must meet to log a reset connection."""
    if sock is None:
        return False
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, _NO_BYTES)
    except (OSError, ValueError):  # closed under us: the loop's next pass finds out
        return False
    return int.from_bytes(answer, sys.byteorder) > 0


def read_incoming_on(transport: Any, incoming: Any, has_exclusive_flag: bool = False) -> Any:
    """Thespian's read of a message, repeated while the rest of its frame is waiting."""
    result = _ORIGINAL_READ_INCOMING(transport, incoming, has_exclusive_flag=has_exclusive_flag)
    reads = 1
    # `incoming` back means "more of this frame to come"; None or another means done.
    while result is incoming and reads < READS_PER_PASS and bytes_waiting(incoming.socket):
        result = _ORIGINAL_READ_INCOMING(transport, incoming,
                                         has_exclusive_flag=has_exclusive_flag)
        reads += 1
    return result


def read_ack_on(transport: Any, intent: Any) -> Any:
    """Thespian's read of an acknowledgement, repeated while the rest of it is waiting."""
    result = _ORIGINAL_READ_ACK(transport, intent)
    reads = 1
    # True with the intent still waiting for its ack: part of a frame read, more to come.
    while (result is True and reads < READS_PER_PASS
           and intent.stage == tcp.TCPTransport._XMITStepWaitForAck
           and not intent.ackbuf.is_empty() and bytes_waiting(intent.socket)):
        result = _ORIGINAL_READ_ACK(transport, intent)
        reads += 1
    return result


class Description:
    """The text of `describe(subject)`, built when it is formatted or pickled."""

    __slots__ = ("_describe", "_subject")

    def __init__(self, describe: Callable[[Any], str], subject: Any) -> None:
        self._describe = describe
        self._subject = subject

    def __str__(self) -> str:
        return self._describe(self._subject)

    __repr__ = __str__

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return (str, (str(self),))


_DESCRIBED: tuple[Any, ...] = (TransmitIntent, ReceiveEnvelope)  # Any: their methods are replaced
_ORIGINAL_IDENTIFY: dict[type, Callable[[Any], str]] = {
    kind: kind.identify for kind in _DESCRIBED}
_ORIGINAL_STR: dict[type, Callable[[Any], str]] = {kind: kind.__str__ for kind in _DESCRIBED}
_ORIGINAL_SELECTORS = tcp.selectors


def install() -> None:
    """Adapt Thespian's TCP loop in this process and the processes it forks after."""
    transport: Any = tcp  # patching the module is the point: it looks the name up at each use
    transport.selectors = _SELECTORS_FOR_THESPIAN
    transport.TCPTransport._handleReadableIncoming = read_incoming_on
    transport.TCPTransport._next_XMIT_4 = read_ack_on
    for kind in _DESCRIBED:
        kind.identify = _described_by(_ORIGINAL_IDENTIFY[kind])
        # Each __str__ is built on identify(): it formats the Description, and stays a str.
        kind.__str__ = _text_of(_ORIGINAL_STR[kind])


def uninstall() -> None:
    """Thespian's loop as shipped again, in this process (for tests)."""
    transport: Any = tcp
    transport.selectors = _ORIGINAL_SELECTORS
    transport.TCPTransport._handleReadableIncoming = _ORIGINAL_READ_INCOMING
    transport.TCPTransport._next_XMIT_4 = _ORIGINAL_READ_ACK
    for kind in _DESCRIBED:
        kind.identify = _ORIGINAL_IDENTIFY[kind]
        kind.__str__ = _ORIGINAL_STR[kind]


def installed() -> bool:
    return tcp.selectors is _SELECTORS_FOR_THESPIAN


def _described_by(identify: Callable[[Any], str]) -> Callable[[Any], Description]:
    def described(subject: Any) -> Description:
        return Description(identify, subject)

    return described


def _text_of(to_str: Callable[[Any], Any]) -> Callable[[Any], str]:
    def text(subject: Any) -> str:
        return str(to_str(subject))

    return text
