"""Errors of the mock governance server: one root, control errors carry an HTTP status."""

from __future__ import annotations

from collections.abc import Iterable


class MockGovernanceError(Exception):
    """Root of every error the mock governance server raises on purpose."""


class MockStartupError(MockGovernanceError):
    """The server could not start (a port is taken, the parent is gone, ...)."""


class UnsignableRequest(MockGovernanceError):
    """A SignatureRequest the mock will not sign; the message becomes the failure_reason."""


class MockControlError(MockGovernanceError):
    """A control request was refused; ``status`` is the HTTP status to answer with."""

    status = 400


class InvalidJson(MockControlError):
    def __init__(self, problem: str) -> None:
        super().__init__(f"request body is not valid JSON: {problem}")


class InvalidRequestBody(MockControlError):
    """The JSON parsed but has the wrong shape (missing key, wrong type)."""


class InvalidQuery(MockControlError):
    """A query parameter has a value the endpoint does not take."""


class InvalidMessage(MockControlError):
    def __init__(self, message_type: str, problem: str) -> None:
        super().__init__(f"'message' is not a valid {message_type}: {problem}")
        self.message_type = message_type


class UnknownBehaviour(MockControlError):
    def __init__(self, names: Iterable[str], known: Iterable[str]) -> None:
        self.names = tuple(sorted(names))
        super().__init__(
            f"unknown behaviour(s): {', '.join(self.names)}; known: {', '.join(sorted(known))}"
        )


class InvalidBehaviourValue(MockControlError):
    def __init__(self, name: str, expected: str, got: object) -> None:
        super().__init__(f"behaviour {name!r} takes {expected}, got {got!r}")
        self.name = name


class NotFound(MockControlError):
    status = 404


class MethodNotAllowed(MockControlError):
    status = 405


class NothingToTarget(MockControlError):
    """A hostile frame answers a kind of request of which none is recorded (POST /hostile)."""

    status = 409


class CrossSiteRequest(MockControlError):
    """A request a web page could have made a browser send (Origin, a foreign Host)."""

    status = 403


class NotJson(MockControlError):
    """A POST whose Content-Type is not application/json."""

    status = 415
