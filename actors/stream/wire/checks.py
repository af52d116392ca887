"""What the node accepts from governance: refusal kinds, fixed bounds, and checks of one value.

Governance controls every byte the node reads, so every value that leaves
the wire is bounded before the node acts on it: numbers by what SQLite holds
(int64) and what the domain allows, ids by length and printability,
repeated fields and the frame by `governance.limits` (nodeconfig), free
text by length. A refused frame is skipped and counted by its `Refusal`
kind; nothing governance sends can raise past `decode.decode_frame`.

The decoders test the common case inline (a `len`, a comparison,
`str.isprintable`: C calls); the functions here that build a message run
only for a value that failed, so an honest frame pays almost nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nodeconfig.model import GovernanceLimitsConfig

__all__ = [
    "INT64_MAX",
    "MAX_ID_CHARS",
    "MAX_KEY_BYTES",
    "MAX_RETRY_AFTER_S",
    "MAX_SHOWN_CHARS",
    "MAX_SIGNATURE_BYTES",
    "MAX_TEXT_CHARS",
    "InvalidField",
    "Refusal",
    "bad_id",
    "bytes_over",
    "checked_id",
    "count_over",
    "negative",
    "over_int64",
    "shown",
    "text",
]


class Refusal(StrEnum):
    """Why a frame was refused: the `kind` label of `alys_stream_unexpected_frames_total`."""

    MALFORMED = "malformed"  # does not parse, lacks a required field, an unknown enum value
    UNKNOWN_PAYLOAD = "unknown_payload"  # a payload this node does not know (a newer governance?)
    TOO_LARGE = "too_large"  # the frame, or one bytes or text value, over its cap
    TOO_MANY = "too_many"  # a repeated field with more entries than its cap
    OUT_OF_RANGE = "out_of_range"  # a number storage cannot hold or the domain does not allow
    BAD_ID = "bad_id"  # an id that is empty, too long, or not printable text


class InvalidField(Exception):
    """What is wrong with one field of a frame, and which `Refusal` that is.

    Raised while a frame is decoded and never beyond: `decode` turns it into
    a `MalformedFrame` that names the payload and the request id as well.
    """

    def __init__(self, problem: str, kind: Refusal = Refusal.MALFORMED) -> None:
        super().__init__(problem)
        self.kind = kind


INT64_MAX = 2**63 - 1  # SQLite's INTEGER, and so every number the node keeps
# The node's own request ids are `<client id>/<attempt>`, `status/<node id>/<ns>`, ...;
# a client's id of a few dozen characters leaves plenty of room.
MAX_ID_CHARS = 256
# A DER ECDSA signature with its sighash byte is at most 73 bytes, a BLS one 96;
# a public key 33 (compressed), 65 (uncompressed) or 48 (BLS).
MAX_SIGNATURE_BYTES = 128
MAX_KEY_BYTES = 128
# An error message or a failure reason is only shown (logs, a client's reply):
# it is kept, cut to this length, never refused.
MAX_TEXT_CHARS = 1024
# RetryInfo.retry_after asks the node to hold off; a day is past any rate limit.
MAX_RETRY_AFTER_S = 86_400
# Governance's text quoted in a refusal, which goes to a log line.
MAX_SHOWN_CHARS = 40


def shown(value: str | bytes) -> str:
    """Governance's text quoted for a message: ASCII-escaped, at most 40 characters of it.

    ASCII escapes make control characters, bidi overrides and lone bytes
    visible and harmless in a log line; the cut keeps a 1 MiB value from
    becoming a 1 MiB line.
    """
    if len(value) <= MAX_SHOWN_CHARS:
        return ascii(value)
    return f"{value[:MAX_SHOWN_CHARS]!a}... ({len(value)} long)"


def text(value: str) -> str:
    """Free text from governance, bounded and printable.

    An honest error message passes unchanged (two C calls); a long one is cut
    to `MAX_TEXT_CHARS`, and control characters are escaped so that a newline
    cannot forge a log line.
    """
    if len(value) <= MAX_TEXT_CHARS and value.isprintable():
        return value
    clean = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in value[:MAX_TEXT_CHARS])
    if len(clean) <= MAX_TEXT_CHARS and len(value) <= MAX_TEXT_CHARS:
        return clean
    # Escapes lengthen the text: cut again, so the bound holds whatever it held.
    return f"{clean[:MAX_TEXT_CHARS]}... ({len(value)} characters)"


def checked_id(value: str, field: str, *, empty_ok: bool = False) -> str:
    """`value` if it is an id: at most `MAX_ID_CHARS` printable characters, not empty."""
    if len(value) <= MAX_ID_CHARS and value.isprintable() and (value or empty_ok):
        return value
    raise bad_id(value, field)


def bad_id(value: str, field: str) -> InvalidField:
    """The precise problem of an id `checked_id` refused."""
    if not value:
        return InvalidField(f"{field} is empty", Refusal.BAD_ID)
    if len(value) > MAX_ID_CHARS:
        return InvalidField(f"{field} {shown(value)} is {len(value)} characters long, "
                            f"more than {MAX_ID_CHARS}", Refusal.BAD_ID)
    # Printability is judged on the whole id, but only its first bad character is named.
    first = next(c for c in value if not c.isprintable())
    return InvalidField(f"{field} {shown(value)} contains the control or non-printable "
                        f"character U+{ord(first):04X}", Refusal.BAD_ID)


def over_int64(value: int, field: str) -> InvalidField:
    return InvalidField(f"{field} {value} is over {INT64_MAX}, the largest integer the node "
                        "stores", Refusal.OUT_OF_RANGE)


def negative(value: int, field: str) -> InvalidField:
    return InvalidField(f"{field} {value} is negative", Refusal.OUT_OF_RANGE)


def count_over(count: int, field: str, cap: int, key: str) -> InvalidField:
    return InvalidField(f"{field} has {count} entries, more than governance.limits.{key} "
                        f"({cap})", Refusal.TOO_MANY)


def bytes_over(size: int, field: str, cap: int, cap_name: str) -> InvalidField:
    return InvalidField(f"{field} is {size} bytes, more than {cap_name} ({cap})",
                        Refusal.TOO_LARGE)


# How far past `max_frame_bytes` a frame is still received (then refused unparsed, by
# id): gRPC's own default of 4 MiB at least, so that a governance keeping to gRPC's
# defaults never ends a session with one frame.
RECEIVE_CEILING_FACTOR = 8
MIN_RECEIVE_CEILING = 4 * 1024 * 1024


def receive_ceiling(limits: GovernanceLimitsConfig) -> int:
    """The channel's `grpc.max_receive_message_length`."""
    return max(limits.max_frame_bytes * RECEIVE_CEILING_FACTOR, MIN_RECEIVE_CEILING)

