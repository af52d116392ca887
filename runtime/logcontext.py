"""What the line being written is about: the request id an actor's message, or a peg-out's
event, carries, for the `request_id`, `event` and `trace_id` fields of JSON log lines.

An actor handles one message at a time on one thread, so the context is module values
per process: `handling`, the message being handled, set around each one
(`actors/base.py`: one reference saved and restored; its id is looked up only when a
line is written), and `current`, set by `about` around what names its id itself (a
peg-out's event the bridge observes, a frame from governance), which wins.
A line written from another thread (the stream's gRPC reader) may see the actor's
context: it is a hint for finding lines, never a fact the node acts on.
"""

from __future__ import annotations

# (request id, event, trace id) of what is being handled; all None outside any. The trace
# id is given where the line is about a traced peg-out but no span is open around it.
Context = tuple[str | None, str | None, str | None]
NONE: Context = (None, None, None)

current: Context = NONE
handling: object = None  # the message the actor is handling, if any


def about(request_id: str | None, event: str | None = None,
          trace_id: str | None = None) -> Context:
    """Make lines from now on about `request_id` (and `event`, `trace_id`); the context it
    replaced, for `restore`."""
    global current
    previous, current = current, (request_id, event, trace_id)
    return previous


def restore(previous: Context) -> None:
    global current
    current = previous


# Which field of a message type holds the id it is about (None: none), found once per type:
# a failed getattr raises inside, which every message without an id would pay.
_ID_FIELD: dict[type, str | None] = {}
_ID_FIELDS = ("request_id", "proposal_id")


def request_id_of(message: object) -> str | None:
    """The id a message is about: its request id, or a proposal's id; None for others."""
    kind = type(message)
    try:
        name = _ID_FIELD[kind]
    except KeyError:
        name = _ID_FIELD[kind] = next((field for field in _ID_FIELDS
                                       if hasattr(message, field)), None)
    if name is None:
        return None
    found = getattr(message, name, None)
    return found if isinstance(found, str) else None
