"""The node's own key: its identity towards governance (docs/protocol.md, convention 9).

A secp256k1 private key in `node.key_file` (by default `node.key` beside the
database), created on first start: 32 random bytes as 64 hex digits and a
newline, mode 0600, written with O_EXCL so two processes starting at once
cannot both create one. A key file anyone but its owner may read is refused:
whoever reads it can register as this node.

Its compressed public key, hex, goes in every `NodeRegistration`
(`NodeInfo.public_key`); with `governance.auth.type: signature` the key also
signs the registration (`auth_signature`).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from coincurve import PrivateKey

# Convention 9: what a signature registration signs. Changing any of it breaks every
# governance that verifies it.
AUTH_DOMAIN = b"alys-governance-auth-v1"
KEY_FILE_NAME = "node.key"


class NodeKeyError(ValueError):
    """The key file cannot be used: unreadable, malformed, or readable by others."""


@dataclass(frozen=True)
class NodeKey:
    secret: bytes = field(repr=False)

    @property
    def public_key_hex(self) -> str:
        """The compressed public key (33 bytes) as 66 lower-case hex digits."""
        return PrivateKey(self.secret).public_key.format(compressed=True).hex()

    def auth_signature(self, node_id: str, timestamp: int) -> bytes:
        """Convention 9: DER ECDSA (low S) over SHA-256 of `auth_message`."""
        digest = hashlib.sha256(auth_message(node_id, timestamp)).digest()
        return PrivateKey(self.secret).sign(digest, hasher=None)

    def __repr__(self) -> str:
        return f"NodeKey(public_key={self.public_key_hex})"


def auth_message(node_id: str, timestamp: int) -> bytes:
    """`alys-governance-auth-v1` 0x00 <node id, UTF-8> 0x00 <Unix seconds, decimal ASCII>."""
    return AUTH_DOMAIN + b"\x00" + node_id.encode("utf-8") + b"\x00" + str(timestamp).encode()


def default_key_path(storage_path: str) -> str:
    return os.path.join(os.path.dirname(storage_path), KEY_FILE_NAME)


def load_or_create(path: str | os.PathLike[str]) -> tuple[NodeKey, bool]:
    """The key in `path`, creating it first if there is none; True when created."""
    target = Path(path)
    try:
        return _load(target), False
    except FileNotFoundError:
        pass
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = _new_secret()
    # Written whole to a file of its own, then linked into place: a crash in between
    # leaves no half-written key (which would fail every later start), and the link
    # fails, as O_EXCL would, if another process put a key there first.
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secret.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, target)
        except FileExistsError:  # another process created it first: use that one
            return _load(target), False
    finally:
        temporary.unlink(missing_ok=True)
    return NodeKey(secret), True


def load(path: str | os.PathLike[str]) -> NodeKey:
    try:
        return _load(Path(path))
    except FileNotFoundError as error:
        raise NodeKeyError(f"node key file {path} does not exist") from error


def _load(path: Path) -> NodeKey:
    mode = stat.S_IMODE(path.stat().st_mode)  # FileNotFoundError passes through
    if mode & 0o077:
        raise NodeKeyError(f"node key file {path} may be read by others (mode {mode:04o});"
                           " make it 0600")
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise NodeKeyError(f"node key file {path} is not 64 hex digits: "
                           f"{type(error).__name__}") from None
    if len(secret) != 32:
        raise NodeKeyError(f"node key file {path} is not 64 hex digits")
    try:
        PrivateKey(secret)
    except ValueError as error:  # zero, or not below the curve order
        raise NodeKeyError(f"node key file {path} holds no valid secp256k1 key") from error
    return NodeKey(secret)


def _new_secret() -> bytes:
    while True:
        secret = os.urandom(32)
        try:
            PrivateKey(secret)
        except ValueError:
            continue  # about 2^-128 likely
        return secret
