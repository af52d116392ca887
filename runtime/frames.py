"""Authenticate every frame of Thespian's TCP transport with the node's secret.

Thespian 4.0.1 writes each message as `<length>>` followed by a pickle, and
unpickles whatever arrives on a socket: anyone who can connect to the admin
port or an actor's port can run code in that process. Like
`runtime/loopback.py`, this is a small adaptation of Thespian, made once per
process before its first `ActorSystem(...)` and inherited by every process
forked from it afterwards (the admin, its logger, every actor):

- The transport serializes through one module-level object
  (`TCPTransport.serializer`). It is replaced by one whose `dumps` puts an
  HMAC-SHA256 tag, keyed by the node's secret, in front of the pickle, and
  whose `loads` checks the tag before `pickle.loads` sees a byte. A frame
  that fails raises `FrameRefused`, so no path through the transport can
  unpickle it.
- The two acknowledgement frames (`ACK`, `ACK+DATAERR`) are constants
  pickled at import; they are rebuilt tagged, and an acknowledgement whose
  tag fails is treated as a corrupted one (Thespian retries the send).
- Where a refused frame is read, the socket is at hand: the refusal is
  counted (`alys_transport_frames_refused_total`) and logged with the peer's
  address. Thespian then drops the frame, answers `ACK+DATAERR` and closes
  the socket, as it does for any frame it cannot decode.

The tag proves a frame was made with the secret; it hides nothing (frames,
the config sent at start included, travel in clear) and does not stop a
captured frame from being sent again.

The secret is 32 random bytes in the run directory (`RunPaths.secret_file`,
mode 0600): `ensure_secret` makes it at the node's start, or keeps the one
there, so clients keep working across restarts; deleting it before a start
rotates it. One secret per process: `install` switches it (a test process
that starts several nodes one after another installs each one's in turn).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import secrets
import socket
import stat
from pathlib import Path
from typing import Any

import thespian.system.transport.TCPTransport as tcp
from thespian.system.transport.streamBuffer import ackDataErrPacket, ackPacket, toSendBuffer

from nodeconfig import LoggingConfig

SECRET_BYTES = 32
TAG_BYTES = hashlib.sha256().digest_size


class TransportError(Exception):
    """Root of the errors of the authenticated transport."""


class FrameRefused(TransportError, ValueError):
    """A frame whose tag is missing or wrong; nothing of it was unpickled."""


class SecretUnusable(TransportError):
    """The secret file cannot be read, or does not hold a secret."""


# -- the tag ---------------------------------------------------------------------


def tag(key: bytes, body: bytes) -> bytes:
    """`body` with its HMAC-SHA256 under `key` in front."""
    return hmac.digest(key, body, "sha256") + body


def untag(key: bytes, frame: bytes) -> memoryview:
    """The body of a tagged frame, once its tag verifies under `key`; else `FrameRefused`."""
    if len(frame) < TAG_BYTES:
        raise FrameRefused(f"a frame of {len(frame)} bytes is shorter than its tag")
    view = memoryview(frame)
    body = view[TAG_BYTES:]
    if not hmac.compare_digest(view[:TAG_BYTES], hmac.digest(key, body, "sha256")):
        raise FrameRefused("the frame's tag does not verify")
    return body


# -- the process's secret and the adapted transport ----------------------------------


class _TaggedPickle:
    """What `TCPTransport.serializer` becomes: pickle, behind the tag."""

    def __init__(self) -> None:
        self.key: bytes | None = None
        # Where the node's processes log a refusal, and the process that installed the key.
        self.log: LoggingConfig | None = None
        self.installer_pid = 0

    def dumps(self, message: Any) -> bytes:
        assert self.key is not None
        return tag(self.key, pickle.dumps(message))

    def loads(self, frame: bytes) -> Any:
        assert self.key is not None
        return pickle.loads(untag(self.key, frame))


_SERIALIZER = _TaggedPickle()
_INCOMING: Any = tcp.TCPIncoming_Common  # reads a frame from a socket that connected to us
_SENDER: Any = tcp.TCPTransport  # sends a frame and reads its acknowledgement
_ORIGINAL_DATA = _INCOMING.data.fget
_ORIGINAL_ACK_CHECK = _SENDER._check_XMIT_4_done


def install(key: bytes, log: LoggingConfig | None = None) -> None:
    """Tag and check every frame of this process, and of processes forked after, with `key`.

    `log`: the node's logging, where its forked processes write refusals (a client
    passes None: its refusals go to its own logging)."""
    if len(key) != SECRET_BYTES:
        raise SecretUnusable(f"a transport secret is {SECRET_BYTES} bytes, not {len(key)}")
    _SERIALIZER.key = bytes(key)
    _SERIALIZER.log = log
    _SERIALIZER.installer_pid = os.getpid()
    # Patching the module is the point (see the docstring): Thespian looks these names up
    # at each use.
    transport: Any = tcp
    transport.serializer = _SERIALIZER
    transport.ackMsg = toSendBuffer(ackPacket, _SERIALIZER.dumps)
    transport.ackDataErrMsg = toSendBuffer(ackDataErrPacket, _SERIALIZER.dumps)
    _INCOMING.data = property(_checked_data)
    _SENDER._check_XMIT_4_done = _checked_ack


def installed() -> bool:
    return tcp.serializer is _SERIALIZER and _SERIALIZER.key is not None


def _checked_data(incoming: Any) -> Any:
    """A whole frame read by a listening socket; its refusal is counted and logged here."""
    try:
        return _ORIGINAL_DATA(incoming)
    except FrameRefused as refusal:
        _refused("message", incoming.socket, refusal)
        raise  # Thespian drops the frame, answers ACK+DATAERR and closes the socket


def _checked_ack(transport: Any, intent: Any, received: bytes) -> Any:
    """A sender reading its acknowledgement: a refused one counts as corrupted (retry)."""
    try:
        return _ORIGINAL_ACK_CHECK(transport, intent, received)
    except FrameRefused as refusal:
        _refused("ack", getattr(intent, "socket", None), refusal)
        intent.backoffPause(True)
        intent.stage = transport._XMITStepRetry
        return transport._nextTransmitStep(intent)


def _refused(frame: str, sock: socket.socket | None, refusal: FrameRefused) -> None:
    from runtime.metrics import TRANSPORT_FRAMES_REFUSED  # not before the metrics dir is set

    TRANSPORT_FRAMES_REFUSED.labels(frame=frame).inc()
    log = _SERIALIZER.log
    if log is not None and os.getpid() != _SERIALIZER.installer_pid:
        # Straight to the file, as actors log (runtime/logs.py): the admin's records would
        # otherwise travel through the very transport that is refusing frames.
        from runtime.logs import log_directly

        log_directly(log.file, log.level, log.rate_limit, log.format)
    # Looked up each time: Thespian's admin replaces the logging manager once it runs.
    logging.getLogger("alys.transport").warning(
        "refused %s frame from %s: %s (dropped unread)",
        "an ack" if frame == "ack" else "a message", _peer(sock), refusal)


def _peer(sock: socket.socket | None) -> str:
    try:
        host, port = sock.getpeername()[:2] if sock is not None else ("?", "?")
    except OSError:
        return "an unknown peer (socket closed)"
    return f"{host}:{port}"


# -- the secret file ------------------------------------------------------------------


def ensure_secret(path: Path) -> bytes:
    """The node's secret: the one in `path` if it is sound, else a new one written there.

    Sound means a regular file of this user, readable by no one else, of
    `SECRET_BYTES` bytes. Anything else may have been read or planted, and is
    replaced.
    """
    try:
        info = path.lstat()
        if (stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()
                and not info.st_mode & 0o077 and info.st_size == SECRET_BYTES):
            return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(SECRET_BYTES)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # the file may have been there with another mode
        os.write(descriptor, key)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    return key


def read_secret(path: Path) -> bytes:
    """A client's copy of the node's secret; `SecretUnusable` says why there is none."""
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise SecretUnusable(f"cannot read the node's transport secret {path}: "
                             f"{exc.strerror or exc}") from exc
    if len(key) != SECRET_BYTES:
        raise SecretUnusable(f"{path} holds {len(key)} bytes, not a {SECRET_BYTES}-byte secret")
    return key
