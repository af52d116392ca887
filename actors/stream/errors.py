"""The stream package's one error root, so callers can catch everything it raises at once."""

from __future__ import annotations

from typing import Any


class StreamError(Exception):
    """Root of every error raised by the StreamActor's parts."""


class InvalidSetting(StreamError, ValueError):
    """A part was built with a value it cannot work with (a programming or config error).

    Also a ValueError, so code that validates arguments generically still catches it.
    """


class IllegalTransition(StreamError):
    """The connection state machine was asked for a move its table does not allow."""

    def __init__(self, current: Any, target: Any) -> None:
        super().__init__(f"illegal connection transition {current} -> {target}")
        self.current = current
        self.target = target


class DuplicateRequest(StreamError):
    """A request id is already awaiting an answer; a second one would shadow the first."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id!r} is already pending")
        self.request_id = request_id
