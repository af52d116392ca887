"""The tag on actor frames (runtime/frames.py): pure functions, the adapted serializer, the file."""

from __future__ import annotations

import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import thespian.system.transport.TCPTransport as tcp
from hypothesis import given
from hypothesis import strategies as st
from thespian.system.transport.streamBuffer import ReceiveBuffer, ackDataErrPacket, ackPacket

from runtime import frames
from runtime.frames import (
    SECRET_BYTES,
    TAG_BYTES,
    FrameRefused,
    SecretUnusable,
    ensure_secret,
    install,
    read_secret,
    tag,
    untag,
)

keys = st.binary(min_size=SECRET_BYTES, max_size=SECRET_BYTES)
bodies = st.binary(max_size=2048)


class Trap:
    """Unpickling this creates a file: what a forged frame would do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "x"))


@pytest.fixture
def installed_key() -> Iterator[bytes]:
    """A key installed in this process; the one before it (a node's, if any) is put back."""
    before = frames._SERIALIZER.key
    key = os.urandom(SECRET_BYTES)
    install(key)
    yield key
    if before is not None:
        install(before)


@given(keys, bodies)
def test_a_tagged_body_comes_back_unchanged(key: bytes, body: bytes) -> None:
    framed = tag(key, body)
    assert len(framed) == TAG_BYTES + len(body)
    assert bytes(untag(key, framed)) == body


@given(keys, bodies.filter(bool), st.data())
def test_any_changed_byte_is_refused(key: bytes, body: bytes, data: st.DataObject) -> None:
    framed = bytearray(tag(key, body))
    index = data.draw(st.integers(0, len(framed) - 1), label="index")
    framed[index] ^= data.draw(st.integers(1, 255), label="flip")
    with pytest.raises(FrameRefused):
        untag(key, bytes(framed))


@given(keys, bodies.filter(bool), st.data())
def test_a_truncated_frame_is_refused(key: bytes, body: bytes, data: st.DataObject) -> None:
    framed = tag(key, body)
    cut = data.draw(st.integers(0, len(framed) - 1), label="cut")
    with pytest.raises(FrameRefused):
        untag(key, framed[:cut])


@given(keys, keys, bodies)
def test_a_frame_tagged_with_another_key_is_refused(key: bytes, other: bytes, body: bytes) -> None:
    if key != other:
        with pytest.raises(FrameRefused):
            untag(other, tag(key, body))


def test_an_untagged_pickle_is_refused_before_it_is_loaded(
        installed_key: bytes, tmp_path: Path) -> None:
    trap = tmp_path / "pwned"
    forged = pickle.dumps(Trap(trap))
    buffer = ReceiveBuffer(tcp.serializer.loads)
    buffer.addMore(b"%d>" % len(forged) + forged)

    with pytest.raises(FrameRefused):
        buffer.completed()
    assert not trap.exists()
    # The control: with the tag, the same bytes are loaded (and the trap springs).
    tcp.serializer.loads(tag(installed_key, forged))
    assert trap.exists()


def test_messages_and_acknowledgements_travel_tagged(installed_key: bytes) -> None:
    message = ("from", {"a": 1})
    sent = tcp.toSendBuffer(message, tcp.serializer.dumps)
    buffer = ReceiveBuffer(tcp.serializer.loads)
    buffer.addMore(sent)
    assert buffer.completed() == (message, b"")
    for constant, packet in ((tcp.ackMsg, ackPacket),
                             (tcp.ackDataErrMsg, ackDataErrPacket)):
        body = constant.split(b">", 1)[1]
        assert pickle.loads(untag(installed_key, body)) == packet


def test_a_secret_is_made_once_readable_by_its_owner_only_and_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "run" / "actor-secret-19500"
    key = ensure_secret(path)

    assert len(key) == SECRET_BYTES and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_secret(path) == key
    assert read_secret(path) == key
    assert [p.name for p in path.parent.iterdir()] == [path.name]


@pytest.mark.parametrize("spoil", ["mode", "size", "symlink"])
def test_a_secret_file_that_may_have_been_read_or_planted_is_replaced(
        tmp_path: Path, spoil: str) -> None:
    path = tmp_path / "actor-secret-19500"
    key = ensure_secret(path)
    if spoil == "mode":
        path.chmod(0o644)
    elif spoil == "size":
        path.write_bytes(key + b"x")
    else:
        planted = tmp_path / "planted"
        planted.write_bytes(key)
        planted.chmod(0o600)
        path.unlink()
        path.symlink_to(planted)

    fresh = ensure_secret(path)

    assert fresh != key and path.read_bytes() == fresh and not path.is_symlink()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_client_without_a_readable_secret_is_told_why(tmp_path: Path) -> None:
    with pytest.raises(SecretUnusable, match="cannot read"):
        read_secret(tmp_path / "missing")
    short = tmp_path / "short"
    short.write_bytes(b"123")
    with pytest.raises(SecretUnusable, match="3 bytes"):
        read_secret(short)
    with pytest.raises(SecretUnusable):
        install(b"123")
