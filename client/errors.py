"""What can go wrong while driving a node: one root, `ClientError`, and a class per case.

Each carries what a caller needs to act on it (which port, which actor, which
reply types were expected and what came instead), not only a message.
"""

from __future__ import annotations

from pathlib import Path


class ClientError(Exception):
    """Root of the errors the client library raises."""


class NoNode(ClientError):
    """No running node could be reached on the admin port; the message says where we looked."""

    def __init__(self, message: str, *, host: str, admin_port: int) -> None:
        super().__init__(message)
        self.host = host
        self.admin_port = admin_port


class NoSecret(ClientError):
    """The node's transport secret could not be read: without it every frame is dropped."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class NodeUnreachable(ClientError):
    """The actor system failed a send or stopped answering (the node may have stopped)."""


class UnknownActor(ClientError):
    """The root knows no actor by this name (or none runs by it right now)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the node's root knows no running actor named {name!r}")
        self.name = name


class NoReply(ClientError):
    """An ask got no reply of the expected types in time.

    `got` holds what did arrive meanwhile: late answers to earlier requests,
    or this request's answer of a type the caller did not expect. They stay
    in the client's mailbox for `listen`.
    """

    def __init__(self, waiting_for: str, expected: tuple[type, ...],
                 got: tuple[object, ...], timeout_s: float) -> None:
        names = " or ".join(kind.__name__ for kind in expected)
        came = ", ".join(_brief(item) for item in got) if got else "nothing"
        super().__init__(f"{waiting_for}: expected {names} within {timeout_s:g}s, "
                         f"got {came}")
        self.waiting_for = waiting_for
        self.expected = expected
        self.got = got
        self.timeout_s = timeout_s


def _brief(item: object, limit: int = 120) -> str:
    """A reply as the error shows it: its repr, cut short (a peg-out list can be long)."""
    text = repr(item)
    return text if len(text) <= limit else text[:limit - 1] + "…"
