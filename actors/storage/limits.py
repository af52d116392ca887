"""What SQLite can hold, checked before a record is written (pure).

sqlite3 refuses some Python values only once it binds them, in the middle of a
transaction, and with exceptions that are not `sqlite3.Error`: an integer
outside int64 (`OverflowError`), a str with a lone surrogate, which has no
UTF-8 form (`UnicodeEncodeError`). Others it stores silently in the wrong
type (a str in an INTEGER column), or as NULL (a NaN in a NOT NULL REAL
column, then `IntegrityError`). Retrying such a write cannot help, so the
owner's `DurableStore` refuses the record at once, and the StorageActor
checks again before it begins a transaction.

`refusal(records)` names the first record that cannot be stored, the field
and the problem. Every field of every record type has a check (`FIELDS`; a
unit test keeps it complete), a few type and range tests compiled into one
expression per record type: under 1 us for a peg-out record, 0.3 us for a
small one. Text inside the JSON columns (a peg-out's failures, a member's
id) follows the same rules as a column's: JSON could escape a lone
surrogate, but text that cannot be stored as a column must not hide in a
list either.

Sizes are bounded by `MAX_VALUE_BYTES` per column value: far above anything
the node writes (a standard Bitcoin transaction is at most 400 kB, 800 kB
as hex), and far below SQLite's own limit of 1 GB per value, so that one
hostile value can neither reach that limit nor fill the database by itself.

Two kinds of value are held to their meaning, not only to what SQLite takes.
A reservation's key is a coin, and a coin has one spelling (written two ways
it could be reserved twice): an outpoint is `<txid>:<vout>` in one form only.
Any other key is a named token, `<kind>:<text>` (the bridge reserves
`replacement-of:<id>` so that a peg-out has one open replacement), whose kind
cannot be mistaken for a txid. A claim holds at most the inputs one
transaction can have. A resolution is one of its two words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from actors.messages import Member
from actors.storage.records import (
    RESOLUTIONS,
    Claim,
    Expired,
    FederationRecord,
    InboundHandled,
    MetaValue,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    Release,
    Transfer,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_VALUE_BYTES = 4 * 1024 * 1024
# The widest int64 in JSON ("-9223372036854775808") and its comma.
_JSON_INT_BYTES = 21
_SHOWN_CHARS = 40  # of a key or a value quoted in a refusal
# `<txid>:<vout>`: the txid as 64 lowercase hex digits, the vout (a uint32) in decimal
# without leading zeros.
_OUTPOINT = re.compile(r"[0-9a-f]{64}:(?:0|[1-9][0-9]{0,9})")
MAX_VOUT = 2**32 - 1
MAX_OUTPOINT_CHARS = 64 + 1 + 10
# What starts like an outpoint is held to the outpoint's one form; a token's kind is
# lowercase words joined by hyphens, and too short to be a txid.
_TXID_FIRST = re.compile(r"[0-9a-fA-F]{64}:")
_TOKEN = re.compile(r"[a-z][a-z-]{0,31}:.")
MAX_TOKEN_CHARS = 256  # a kind and a request id (the bridge takes ids of 200 at most)
# A standard transaction weighs at most 400,000 units, and an input at least 164 (41
# bytes outside the witness): fewer than 2,500 inputs, so no claim needs more outpoints.
MAX_OUTPOINTS = 2_500


@dataclass(frozen=True)
class Refusal:
    """A record that cannot be stored: which one, which field, and why."""

    record: str  # its type and key, e.g. "PegoutRecord 'p-1'"
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field} {self.problem}"


# A check returns None when the value can be stored, else the problem.
Check = Callable[[object], str | None]


def refusal(records: Iterable[object]) -> Refusal | None:
    """The first record of `records` SQLite cannot hold, or None if all can be stored."""
    for record in records:
        rules = _RULES.get(type(record))
        if rules is None:
            return Refusal(type(record).__name__, "(record)", "is not a storage record")
        if rules.fits(record):
            continue
        for name, kind in rules.fields:
            problem = kind.check(getattr(record, name))
            if problem is not None:
                return Refusal(describe(record), name, problem)
    return None


def describe(record: object) -> str:
    """A record by its type and key, safe to log whatever the key holds."""
    key = KEYS.get(type(record))
    name = type(record).__name__
    return name if key is None else f"{name} {shown(getattr(record, key))}"


def shown(value: object) -> str:
    """`value` quoted in ASCII (a lone surrogate shows as \\ud800), cut to a readable length."""
    if isinstance(value, str | bytes) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!a}... ({len(value)} long)"
    if isinstance(value, int):
        return _digits(value)
    return ascii(value)


# -- checks of one value ----------------------------------------------------------------


def optional_integer(value: object) -> str | None:
    return None if value is None else integer(value)


def integer(value: object) -> str | None:
    if not isinstance(value, int):
        return f"is a {type(value).__name__}, not an integer"
    if not INT64_MIN <= value <= INT64_MAX:
        return f"is {_digits(value)}, outside what SQLite stores as an integer " \
               f"({INT64_MIN}..{INT64_MAX})"
    return None


def real(value: object) -> str | None:
    if isinstance(value, float):
        # SQLite stores NaN as NULL, which every REAL column of the schema refuses.
        return "is NaN, which SQLite stores as NULL" if math.isnan(value) else None
    return integer(value) if isinstance(value, int) else \
        f"is a {type(value).__name__}, not a number"


def text(value: object) -> str | None:
    return _text(value, MAX_VALUE_BYTES)[0]


def optional_text(value: object) -> str | None:
    return None if value is None else text(value)


def blob(value: object) -> str | None:
    if not isinstance(value, bytes):
        return f"is a {type(value).__name__}, not bytes"
    if len(value) > MAX_VALUE_BYTES:
        return f"is {len(value)} bytes, more than the {MAX_VALUE_BYTES} a value may take"
    return None


def flag(value: object) -> str | None:
    return None if isinstance(value, bool) else f"is a {type(value).__name__}, not a bool"


def integers(value: object) -> str | None:
    """A tuple of integers, stored as a JSON list."""
    if not isinstance(value, tuple):
        return f"is a {type(value).__name__}, not a tuple"
    for index, item in enumerate(value):
        problem = integer(item)
        if problem is not None:
            return f"[{index}] {problem}"
    if len(value) * _JSON_INT_BYTES > MAX_VALUE_BYTES:
        return f"has {len(value)} items, more than a value of {MAX_VALUE_BYTES} bytes holds"
    return None


def texts(value: object) -> str | None:
    """A tuple of texts, stored as a JSON list."""
    if not isinstance(value, tuple):
        return f"is a {type(value).__name__}, not a tuple"
    room = MAX_VALUE_BYTES
    for index, item in enumerate(value):
        problem, size = _text(item, room)
        if problem is not None:
            return f"[{index}] {problem}"
        room -= size
    return None


def members(value: object) -> str | None:
    """A federation's members, stored as a JSON list of [id, key hex, weight, active]."""
    if not isinstance(value, tuple):
        return f"is a {type(value).__name__}, not a tuple"
    room = MAX_VALUE_BYTES
    for index, member in enumerate(value):
        if not isinstance(member, Member):
            return f"[{index}] is a {type(member).__name__}, not a Member"
        problem, size = _text(member.member_id, room)
        for name, found in (("member_id", problem), ("public_key", blob(member.public_key)),
                            ("weight", integer(member.weight)), ("active", flag(member.active))):
            if found is not None:
                return f"[{index}].{name} {found}"
        room -= size + 2 * len(member.public_key)
        if room < 0:
            return f"take more than the {MAX_VALUE_BYTES} bytes a value may take"
    return None


def outpoint(value: object) -> str | None:
    """A reservation's key: an outpoint in its one form, or a token `<kind>:<text>`."""
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not text"
    if _OUTPOINT.fullmatch(value) is not None and int(value[65:]) <= MAX_VOUT:
        return None
    if _TXID_FIRST.match(value) is not None or _TOKEN.match(value) is None:
        return (f"is {shown(value)}, not an outpoint (64 lowercase hex digits, ':', an "
                f"output index up to {MAX_VOUT} without leading zeros) nor a token "
                "(<kind>:<text>)")
    if len(value) > MAX_TOKEN_CHARS:
        return f"is {len(value)} characters, more than the {MAX_TOKEN_CHARS} a token may take"
    if not value.isprintable():  # a lone surrogate is not printable either
        return f"is {shown(value)}, a token with a character that is not printable"
    return None


def outpoints(value: object) -> str | None:
    """A claim's or a transfer's reservation keys (`outpoint`), stored as a JSON list."""
    if not isinstance(value, tuple):
        return f"is a {type(value).__name__}, not a tuple"
    if len(value) > MAX_OUTPOINTS:
        return (f"has {len(value)} outpoints, more than the {MAX_OUTPOINTS} one transaction "
                "can spend")
    for index, item in enumerate(value):
        problem = outpoint(item)
        if problem is not None:
            return f"[{index}] {problem}"
    return None


def resolution(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value in RESOLUTIONS):
        return None
    return f"is {shown(value)}, not one of {', '.join(RESOLUTIONS)} or None"


def _text(value: object, room: int) -> tuple[str | None, int]:
    """The problem with `value` as text of at most `room` bytes, and its size in UTF-8."""
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not text", 0
    if value.isascii():  # O(1) in CPython: a flag of the string object
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            return (f"has no UTF-8 form: a lone surrogate {value[exc.start]!a} at index "
                    f"{exc.start} of {shown(value)}"), 0
    if size > room:
        return f"is {size} bytes of UTF-8, more than the {room} it may take", size
    return None, size


def _int64s(items: tuple[object, ...]) -> bool:
    for item in items:
        if type(item) is not int or not INT64_MIN <= item <= INT64_MAX:
            return False
    return len(items) * _JSON_INT_BYTES <= MAX_VALUE_BYTES


def _ascii_texts(items: tuple[object, ...]) -> bool:
    size = 0
    for item in items:
        if type(item) is not str or not item.isascii():
            return False
        size += len(item)
    return size <= MAX_VALUE_BYTES


def _outpoints(items: tuple[object, ...]) -> bool:
    if len(items) > MAX_OUTPOINTS:
        return False
    for item in items:
        if type(item) is str and _OUTPOINT.fullmatch(item) is not None and (
                len(item) < MAX_OUTPOINT_CHARS or int(item[65:]) <= MAX_VOUT):
            continue
        if outpoint(item) is not None:  # a token, or a refusal
            return False
    return True


def _digits(value: int) -> str:
    # An int past Python's 4300-digit str() limit would raise here: say its size instead.
    return str(value) if value.bit_length() < 256 else f"an integer of {value.bit_length()} bits"


@dataclass(frozen=True)
class Kind:
    """How a column's value is checked. `fits` is an expression in `{v}` that is True only
    for a value SQLite holds as it is: the common case, compiled per record type (`_Rules`).
    `check` names the problem; it runs only when `fits` is False, and has the last word
    (`fits` may turn down a value `check` accepts, such as a bool where an int goes)."""

    fits: str
    check: Check


TEXT = Kind("(type({v}) is str and {v}.isascii() and len({v}) <= MAX_VALUE_BYTES)", text)
OPTIONAL_TEXT = Kind("({v} is None or (type({v}) is str and {v}.isascii() "
                     "and len({v}) <= MAX_VALUE_BYTES))", optional_text)
INTEGER = Kind("(type({v}) is int and INT64_MIN <= {v} <= INT64_MAX)", integer)
OPTIONAL_INTEGER = Kind("({v} is None or (type({v}) is int and INT64_MIN <= {v} <= INT64_MAX))",
                        optional_integer)
REAL = Kind("(type({v}) is float and {v} == {v})", real)  # NaN is unequal to itself
BLOB = Kind("(type({v}) is bytes and len({v}) <= MAX_VALUE_BYTES)", blob)
FLAG = Kind("(type({v}) is bool)", flag)
INTEGERS = Kind("(type({v}) is tuple and _int64s({v}))", integers)
TEXTS = Kind("(type({v}) is tuple and _ascii_texts({v}))", texts)
MEMBERS = Kind("(members({v}) is None)", members)
OUTPOINTS = Kind("(type({v}) is tuple and _outpoints({v}))", outpoints)
RESOLUTION = Kind("({v} is None or (type({v}) is str and {v} in RESOLUTIONS))", resolution)

FIELDS: dict[type, tuple[tuple[str, Kind], ...]] = {
    PegoutRecord: (
        ("request_id", TEXT), ("tx_hex", TEXT), ("input_indices", INTEGERS),
        ("amounts", INTEGERS), ("state", TEXT), ("attempt", INTEGER),
        ("signatures_required", INTEGER), ("signatures_collected", INTEGER),
        ("error", OPTIONAL_TEXT), ("signed_tx_hex", OPTIONAL_TEXT), ("txid", OPTIONAL_TEXT),
        ("failures", TEXTS), ("created_at", REAL), ("updated_at", REAL), ("revision", INTEGER),
        ("series_failures", INTEGER), ("series_started_at", REAL),
        ("replaces", OPTIONAL_TEXT), ("replaced_by", OPTIONAL_TEXT), ("payout_sat", INTEGER),
        ("fee_sat", INTEGER), ("confirmations", INTEGER), ("broadcast_at", REAL),
        ("resolution", RESOLUTION), ("resolved_at", REAL),
        ("federation_version", OPTIONAL_INTEGER),
    ),
    PeginRecord: (
        ("request_id", TEXT), ("btc_txid", TEXT), ("vout", INTEGER), ("amount", INTEGER),
        ("evm_address", TEXT), ("confirmations", INTEGER), ("acknowledged", FLAG),
        ("created_at", REAL), ("revision", INTEGER),
    ),
    FederationRecord: (
        ("version", INTEGER), ("update_type", TEXT), ("members", MEMBERS),
        ("threshold", INTEGER), ("effective_height", INTEGER), ("witness_script", BLOB),
        ("address", TEXT), ("state", TEXT), ("request_id", OPTIONAL_TEXT),
        ("recorded_at", REAL), ("revision", INTEGER), ("script_type", TEXT),
    ),
    ProposalRecord: (
        ("proposal_id", TEXT), ("proposal_type", TEXT), ("data", BLOB),
        ("voting_deadline", INTEGER), ("required_votes", INTEGER), ("received_at", REAL),
    ),
    InboundHandled: (("request_id", TEXT), ("owner", TEXT), ("outcome", TEXT), ("at", REAL)),
    MetaValue: (("key", TEXT), ("value", TEXT), ("revision", INTEGER)),
    Expired: (("table", TEXT), ("owner", TEXT), ("before", REAL)),
    Claim: (("request_id", TEXT), ("outpoints", OUTPOINTS), ("shares_with", OPTIONAL_TEXT),
            ("at", REAL)),
    Release: (("request_id", TEXT),),
    Transfer: (("from_id", TEXT), ("to_id", TEXT), ("outpoints", OUTPOINTS)),
}

# The field that names a record in a refusal.
KEYS: dict[type, str] = {PegoutRecord: "request_id", PeginRecord: "request_id",
                         FederationRecord: "version", ProposalRecord: "proposal_id",
                         InboundHandled: "request_id", MetaValue: "key", Expired: "table",
                         Claim: "request_id", Release: "request_id", Transfer: "to_id"}


@dataclass(frozen=True)
class _Rules:
    fields: tuple[tuple[str, Kind], ...]
    fits: Callable[[object], bool]


def _compiled(fields: tuple[tuple[str, Kind], ...]) -> Callable[[object], bool]:
    # One expression per record type, built the way dataclasses builds __init__: the
    # common case then costs attribute reads and comparisons (0.4 us for a peg-out's
    # scalar fields) instead of a loop of calls over (name, check) pairs (2.2 us).
    expression = " and ".join(kind.fits.format(v=f"r.{name}") for name, kind in fields)
    names = {"INT64_MIN": INT64_MIN, "INT64_MAX": INT64_MAX,
             "MAX_VALUE_BYTES": MAX_VALUE_BYTES, "_int64s": _int64s,
             "_ascii_texts": _ascii_texts, "members": members, "_outpoints": _outpoints,
             "RESOLUTIONS": RESOLUTIONS}
    fits: Callable[[object], bool] = eval(f"lambda r: {expression}", names)
    return fits


_RULES = {kind: _Rules(fields, _compiled(fields)) for kind, fields in FIELDS.items()}
