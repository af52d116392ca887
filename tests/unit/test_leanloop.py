"""The cheaper pass of Thespian's TCP loop (runtime/leanloop.py): the same answers, less work."""

from __future__ import annotations

import errno
import logging
import os
import pickle
import select
import selectors
import socket
import struct
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import thespian.system.transport.TCPTransport as tcp
from hypothesis import given, settings
from hypothesis import strategies as st
from thespian.system import utilis
from thespian.system.transport import ReceiveEnvelope, SendStatus, TransmitIntent
from thespian.system.transport.streamBuffer import ReceiveBuffer, ackPacket, toSendBuffer
from thespian.system.utilis import thesplog

from runtime import leanloop
from runtime.leanloop import Description, OnePollSelector

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture(autouse=True)
def _as_it_was() -> Iterator[None]:
    """Each test leaves the process's Thespian as it found it (a node installs the loop)."""
    was = leanloop.installed()
    yield
    if was:
        leanloop.install()
    else:
        leanloop.uninstall()


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(4)]
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


@pytest.fixture
def lean_pair(pairs: list[tuple[socket.socket, socket.socket]]
              ) -> tuple[socket.socket, socket.socket]:
    """The loop installed, and a connected pair whose first end reads without blocking."""
    leanloop.install()
    ours, theirs = pairs[0]
    ours.setblocking(False)
    return ours, theirs


def _ready(selector: selectors.BaseSelector | OnePollSelector,
           wanted: dict[int, int]) -> set[tuple[int, int]]:
    for fd, events in wanted.items():
        selector.register(fd, events)
    try:
        return {(key.fd, events) for key, events in selector.select(0)}
    finally:
        selector.close()


# -- the selector -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(wants=st.lists(st.sampled_from([0, READ, WRITE, READ | WRITE]), min_size=4, max_size=4),
       written=st.lists(st.booleans(), min_size=4, max_size=4),
       hung_up=st.lists(st.booleans(), min_size=4, max_size=4))
def test_it_answers_as_the_standard_selectors_do(wants: list[int], written: list[bool],
                                                 hung_up: list[bool]) -> None:
    made = [socket.socketpair() for _ in range(4)]
    try:
        for (_, theirs), write, hang_up in zip(made, written, hung_up, strict=True):
            if write:
                theirs.send(b"x")
            if hang_up:
                theirs.shutdown(socket.SHUT_RDWR)
        wanted = {ours.fileno(): want for (ours, _), want in zip(made, wants, strict=True)
                  if want}
        expected_epoll = _ready(selectors.EpollSelector(), wanted)
        expected_poll = _ready(selectors.PollSelector(), wanted)
        assert _ready(OnePollSelector(), wanted) == expected_epoll == expected_poll
    finally:
        for ours, theirs in made:
            ours.close()
            theirs.close()


def test_a_descriptor_registered_twice_is_refused_as_epoll_refuses_it(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    fd = pairs[0][0].fileno()
    selector = OnePollSelector()
    selector.register(fd, READ)
    with pytest.raises(KeyError, match=f"FD {fd}"):
        selector.register(fd, WRITE)


def test_a_closed_socket_is_refused_where_thespian_expects_it() -> None:
    ours, theirs = socket.socketpair()
    ours.close()
    theirs.close()
    with pytest.raises(ValueError, match="-1"):  # a closed socket's fileno() is -1
        OnePollSelector().register(ours.fileno(), READ)
    with pytest.raises(ValueError, match="events"):
        OnePollSelector().register(0, 0)


def test_a_descriptor_closed_under_it_raises_ebadf_from_select() -> None:
    ours, theirs = socket.socketpair()
    fd = ours.fileno()
    selector = OnePollSelector()
    selector.register(fd, READ)
    ours.close()
    theirs.close()
    with pytest.raises(OSError) as raised:
        selector.select(0)
    assert raised.value.errno == errno.EBADF


def test_thespians_bad_descriptor_check_still_finds_a_closed_one() -> None:
    """`TCPTransport._check_fd` is how Thespian finds which descriptor broke a pass."""
    leanloop.install()
    reader, writer = os.pipe()
    tcp.TCPTransport._check_fd(reader)  # an open one passes
    os.close(reader)
    os.close(writer)
    with pytest.raises(OSError):
        tcp.TCPTransport._check_fd(reader)


def test_it_waits_for_its_timeout_and_wakes_on_data(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    ours, theirs = pairs[0]
    selector = OnePollSelector()
    selector.register(ours, READ)  # a socket object, as well as a descriptor
    started = time.monotonic()
    assert selector.select(0.03) == []
    assert time.monotonic() - started >= 0.03
    theirs.send(b"x")
    [(key, events)] = selector.select(None)
    assert (key.fd, events) == (ours.fileno(), READ)


def test_installing_gives_the_transport_this_selector_and_uninstalling_takes_it_back() -> None:
    leanloop.install()
    leanloop.install()  # twice is once
    assert leanloop.installed() and tcp.selectors.DefaultSelector is OnePollSelector
    assert tcp.selectors.EVENT_READ == READ and tcp.selectors.EVENT_WRITE == WRITE
    assert selectors.DefaultSelector is not OnePollSelector  # the rest of the process keeps its own
    leanloop.uninstall()
    assert not leanloop.installed() and tcp.selectors is selectors


# -- a frame read in one pass -------------------------------------------------------------


class _Receiver:
    """The part of a TCPTransport a readable socket reaches once a frame is whole."""

    _addedDataToIncoming = tcp.TCPTransport._addedDataToIncoming

    def __init__(self) -> None:
        self.received: list[object] = []

    def _processReceivedEnvelope(self, envelope: ReceiveEnvelope,
                                 has_exclusive_flag: bool = False) -> None:
        self.received.append(envelope.message)

    def _finishIncoming(self, incoming: object, sender: object) -> None:
        return None


def _frame(message: object) -> bytes:
    """A message's frame as a sender writes it, under whatever serializer is installed."""
    return toSendBuffer(("the sender", message), tcp.serializer.dumps)


# A frame of about 3 kB, much more than the first read (distinct strings: pickle would
# write one string thirty times over as one string and thirty references).
MESSAGE = [f"{n:03d}" + "x" * 100 for n in range(30)]


@pytest.mark.parametrize("lean", [False, True])
def test_a_frame_sent_whole_is_read_in_one_pass_and_acknowledged(
        pairs: list[tuple[socket.socket, socket.socket]], lean: bool) -> None:
    (leanloop.install if lean else leanloop.uninstall)()
    ours, theirs = pairs[0]
    ours.setblocking(False)
    theirs.sendall(_frame(MESSAGE))
    receiver, incoming = _Receiver(), tcp.TCPIncoming(None, ours)

    result = tcp.TCPTransport._handleReadableIncoming(receiver, incoming)
    if lean:
        assert result is None and receiver.received == [MESSAGE]
        theirs.settimeout(10)
        assert theirs.recv(100) == tcp.ackMsg
    else:  # Thespian as shipped takes a second pass of its loop for the rest
        assert result is incoming and receiver.received == []
        assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is None
        assert receiver.received == [MESSAGE]


def test_a_frame_still_on_its_way_waits_for_the_next_pass_unpaused(
        lean_pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = lean_pair
    frame = _frame(MESSAGE)
    theirs.sendall(frame[:1000])
    receiver, incoming = _Receiver(), tcp.TCPIncoming(None, ours)

    assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is incoming
    # It stopped at an empty socket without reading it: Thespian pauses a socket whose
    # read would block, and this one must stay in the next pass's poll.
    assert incoming.backoffPause() == timedelta(0) and incoming.failCount == 0
    assert receiver.received == []
    theirs.sendall(frame[1000:])
    assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is None
    assert receiver.received == [MESSAGE]


def test_two_frames_back_to_back_are_read_one_at_a_time(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    """Reading on never reads into the next frame: each read asks for its own frame's rest."""
    leanloop.install()
    ours, theirs = pairs[0]
    ours.setblocking(False)
    theirs.sendall(_frame(MESSAGE) + _frame("second"))
    receiver = _Receiver()
    for _ in range(2):  # a socket kept open between frames, as Thespian keeps one
        incoming = tcp.TCPIncomingPersistent(None, ours)
        assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is None
    assert receiver.received == [MESSAGE, "second"]


def test_a_peer_that_closes_mid_frame_is_found_by_the_next_pass_as_before(
        lean_pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = lean_pair
    theirs.sendall(_frame(MESSAGE)[:1000])
    theirs.shutdown(socket.SHUT_WR)
    receiver, incoming = _Receiver(), tcp.TCPIncoming(None, ours)
    assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is incoming
    assert incoming.socket is ours  # no bytes waiting: the end is not read in this pass
    assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is None
    assert receiver.received == [] and incoming.socket is None  # closed, as Thespian does


def test_a_pending_socket_error_is_left_for_thespians_own_read() -> None:
    """Looking for waiting bytes must not consume the error a reset leaves on the socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as ours:
        theirs, _ = listener.accept()
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        theirs.close()  # a reset, not an orderly end
        ours.setblocking(False)
        deadline = time.monotonic() + 10
        while not select.select([ours], [], [], 0.1)[0] and time.monotonic() < deadline:
            pass
        assert not leanloop.bytes_waiting(ours)
        with pytest.raises(ConnectionResetError):
            ours.recv(20)


class _Trickle:
    """A socket whose frame comes 1,000 bytes a read, always more waiting: `fileno()` is
    a real socket with a byte pending, so FIONREAD says so however much is read."""

    def __init__(self, frame: bytes, waiting: socket.socket) -> None:
        self.frame, self.waiting, self.reads = frame, waiting, 0

    def recv(self, size: int) -> bytes:
        self.reads += 1
        piece, self.frame = self.frame[:min(size, 1000)], self.frame[min(size, 1000):]
        return piece

    def fileno(self) -> int:
        return self.waiting.fileno()

    def send(self, data: bytes) -> int:  # the ack
        return len(data)


def test_a_large_frame_gives_the_loop_a_turn_after_reads_per_pass_reads(
        pairs: list[tuple[socket.socket, socket.socket]]) -> None:
    leanloop.install()
    ours, theirs = pairs[0]
    theirs.send(b"x")
    trickle = _Trickle(_frame([f"{n:04d}" + "y" * 1000 for n in range(100)]), ours)
    receiver, incoming = _Receiver(), tcp.TCPIncomingPersistent(None, trickle)

    assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) is incoming
    assert trickle.reads == leanloop.READS_PER_PASS and receiver.received == []
    while receiver.received == []:  # each call one pass; about 100 reads in all
        assert tcp.TCPTransport._handleReadableIncoming(receiver, incoming) in (incoming, None)
    assert len(receiver.received[0]) == 100


class _Sender(_Receiver):
    """The part of a TCPTransport that reads an acknowledgement (or, on a socket both
    ends send on, the peer's own message where the ack was expected)."""

    _XMITStepWaitForAck = tcp.TCPTransport._XMITStepWaitForAck
    _XMITStepFinishCleanup = tcp.TCPTransport._XMITStepFinishCleanup
    _XMITStepRetry = tcp.TCPTransport._XMITStepRetry
    _check_XMIT_4_done = tcp.TCPTransport._check_XMIT_4_done

    def _nextTransmitStep(self, intent: TransmitIntent) -> bool:
        return False  # the cleanup step (or a retry): the intent leaves the wait


@pytest.fixture
def plain_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames pickled without the tag (an earlier test may have installed a key): the long
    ack below is a plain pickle with bytes after it, which pickle ignores and a tag
    would not."""
    monkeypatch.setattr(tcp, "serializer", pickle)
    monkeypatch.setattr(tcp, "ackMsg", toSendBuffer(ackPacket, pickle.dumps))


def _awaiting_ack(ours: socket.socket) -> TransmitIntent:
    intent = _intent("a message")
    intent.socket = ours
    intent.stage = tcp.TCPTransport._XMITStepWaitForAck
    intent.ackbuf = ReceiveBuffer(tcp.serializer.loads)
    return intent


# An acknowledgement longer than Thespian's first read of 20 bytes, as a tagged one is
# (50 bytes; an untagged one is 21).
LONG_ACK = toSendBuffer(ackPacket, lambda ack: pickle.dumps(ack) + b"\0" * 30)


def test_an_acknowledgement_longer_than_the_first_read_is_read_in_one_pass(
        lean_pair: tuple[socket.socket, socket.socket], plain_frames: None) -> None:
    ours, theirs = lean_pair
    intent = _awaiting_ack(ours)
    theirs.sendall(LONG_ACK)

    assert tcp.TCPTransport._next_XMIT_4(_Sender(), intent) is False
    assert intent.result == SendStatus.Sent
    assert intent.stage == tcp.TCPTransport._XMITStepFinishCleanup


def test_an_acknowledgement_still_on_its_way_waits_for_the_next_pass_unpaused(
        lean_pair: tuple[socket.socket, socket.socket], plain_frames: None) -> None:
    ours, theirs = lean_pair
    intent = _awaiting_ack(ours)
    theirs.sendall(LONG_ACK[:30])

    assert tcp.TCPTransport._next_XMIT_4(_Sender(), intent) is True
    assert intent.stage == tcp.TCPTransport._XMITStepWaitForAck
    assert intent.backoffPause() == timedelta(0) and intent.result is None
    theirs.sendall(LONG_ACK[30:])
    assert tcp.TCPTransport._next_XMIT_4(_Sender(), intent) is False
    assert intent.result == SendStatus.Sent


def test_the_peers_own_message_where_the_ack_was_expected_is_delivered_then_the_ack_read(
        lean_pair: tuple[socket.socket, socket.socket], plain_frames: None) -> None:
    """Both ends may send on one socket: Thespian takes a message that arrives while it
    waits for its ack as a message received, then keeps waiting for the ack."""
    ours, theirs = lean_pair
    intent, sender = _awaiting_ack(ours), _Sender()
    theirs.sendall(_frame(MESSAGE) + LONG_ACK)

    result = tcp.TCPTransport._next_XMIT_4(sender, intent)
    while result is True:  # the ack, if not already read in the same pass
        result = tcp.TCPTransport._next_XMIT_4(sender, intent)
    assert sender.received == [MESSAGE] and intent.result == SendStatus.Sent
    theirs.settimeout(10)
    assert theirs.recv(100) == tcp.ackMsg  # the peer's message was acknowledged


# -- descriptions -------------------------------------------------------------------------


class _Counted:
    """A message that counts how often it is turned into text."""

    def __init__(self) -> None:
        self.described = 0

    def __str__(self) -> str:
        self.described += 1
        return "counted message"


def _intent(message: object) -> TransmitIntent:
    return TransmitIntent("somewhere", message)  # type: ignore[call-arg]


def test_a_message_is_not_described_for_a_debug_line_nobody_logs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(utilis, "_thesplog_control_settings", (logging.WARNING, False, 0))
    leanloop.install()
    message = _Counted()
    intent, envelope = _intent(message), ReceiveEnvelope("someone", message)  # type: ignore[call-arg]
    thesplog("Attempting intent %s", intent.identify(), level=logging.DEBUG)
    thesplog("ACTOR got %s", envelope.identify(), level=logging.DEBUG)
    assert message.described == 0


def test_a_message_is_described_once_for_a_debug_line_that_is_written(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = tmp_path / "thespian.log"
    monkeypatch.setattr(utilis, "_thesplog_control_settings", (logging.DEBUG, False, 50 * 1024))
    monkeypatch.setattr(utilis, "_thesplog_file", str(log))
    leanloop.install()
    message = _Counted()
    thesplog("Attempting intent %s", _intent(message).identify(), level=logging.DEBUG)
    assert message.described == 1 and "Attempting intent TransportIntent(" in log.read_text()
    assert "counted message" in log.read_text()


def test_descriptions_read_as_before_wherever_they_are_formatted() -> None:
    message = _Counted()
    intent, envelope = _intent(message), ReceiveEnvelope("someone", message)  # type: ignore[call-arg]
    leanloop.uninstall()
    before = [str(intent), intent.identify(), str(envelope), envelope.identify()]
    leanloop.install()
    described = intent.identify()
    assert isinstance(described, Description)
    # "%s" % ...: how thesplog and logging format their arguments
    after = [str(intent), "%s" % described, str(envelope), f"{envelope.identify()}"]  # noqa: UP031
    # The intent's own text carries its time left; compare it without that.
    assert [_timeless(text) for text in after] == [_timeless(text) for text in before]
    assert isinstance(str(intent), str) and isinstance(str(envelope), str)
    assert "counted message" in after[0] and after[2].startswith("ReceiveEnvelope(")


def test_a_description_pickles_as_its_text() -> None:
    leanloop.install()
    envelope = ReceiveEnvelope("someone", "hello")  # type: ignore[call-arg]
    described = envelope.identify()
    record = logging.LogRecord("thespian", logging.ERROR, __file__, 1, "got %s", (described,),
                               None)
    copied = pickle.loads(pickle.dumps(record))
    assert copied.args == (str(described),) and copied.getMessage() == f"got {described}"


def _timeless(text: str) -> str:
    return " ".join(part for part in text.split("-") if not part.startswith(
        ("ExpiresIn_", "quit_", "retry_")))
