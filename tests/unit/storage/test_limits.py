"""The storage limits: every field of every record is checked against what SQLite can hold,
and a refusal names the record, the field and the problem."""

from __future__ import annotations

import dataclasses
import math

import pytest

from actors.messages import Member
from actors.storage.limits import (
    BLOB,
    FIELDS,
    FLAG,
    INT64_MAX,
    INT64_MIN,
    INTEGER,
    INTEGERS,
    MAX_OUTPOINTS,
    MAX_TOKEN_CHARS,
    MAX_VALUE_BYTES,
    MAX_VOUT,
    MEMBERS,
    OPTIONAL_TEXT,
    OUTPOINTS,
    REAL,
    RESOLUTION,
    TEXT,
    TEXTS,
    Kind,
    Refusal,
    refusal,
)
from actors.storage.records import (
    Claim,
    Expired,
    FederationRecord,
    InboundHandled,
    MetaValue,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    Record,
    Release,
    Transfer,
)

pytestmark = pytest.mark.timeout(60)

MEMBER = Member("m0", b"\x02" * 33, 1, True)
COIN = "ab" * 32 + ":0"

# One ordinary record of each type, as the node writes them.
SAMPLES: dict[type, Record] = {
    PegoutRecord: PegoutRecord("p-1", "00" * 60, (0, 1), (5000, 6000), "awaiting_signatures",
                               1, 6, failures=("attempt 1: timeout",), created_at=1.0,
                               updated_at=1.0),
    PeginRecord: PeginRecord("in-1", "cd" * 32, 1, 7000, "0x" + "11" * 20, 6, True, 3.0, 2),
    FederationRecord: FederationRecord(1, "member_add", (MEMBER,), 1, 10, b"\x51\xae",
                                       "bcrt1qexample", "applied", "fed-1", 2.0, 1),
    ProposalRecord: ProposalRecord("prop-1", "upgrade", b"\x00\x01", 99, 3, 4.0),
    InboundHandled: InboundHandled("fed-1", "chain", "applied", 5.0),
    MetaValue: MetaValue("height", "42", 42),
    Expired: Expired("inbound_handled", "chain", 6.0),
    Claim: Claim("p-2", (COIN, "cd" * 32 + ":1"), shares_with="p-1", at=7.0),
    Release: Release("p-1"),
    Transfer: Transfer("p-1", "p-2", (COIN,)),
}

SURROGATE = "\ud800"


def fields_of(*kinds: Kind) -> list[tuple[type, str]]:
    return [(kind_of_record, name) for kind_of_record, fields in FIELDS.items()
            for name, kind in fields if kind in kinds]


def ids(cases: list[tuple[type, str]]) -> list[str]:
    return [f"{record.__name__}.{name}" for record, name in cases]


def with_value(record_type: type, name: str, value: object) -> Record:
    return dataclasses.replace(SAMPLES[record_type], **{name: value})


def refused(record_type: type, name: str, value: object) -> Refusal:
    found = refusal([with_value(record_type, name, value)])
    assert found is not None, f"{record_type.__name__}.{name} = {value!r:.60} was accepted"
    assert found.field == name
    assert found.record.startswith(record_type.__name__)
    return found


INTEGER_FIELDS = fields_of(INTEGER)
TEXT_FIELDS = fields_of(TEXT, OPTIONAL_TEXT)
BLOB_FIELDS = fields_of(BLOB)
REAL_FIELDS = fields_of(REAL)


def test_every_field_of_every_record_type_has_a_check() -> None:
    for record_type, sample in SAMPLES.items():
        declared = [f.name for f in dataclasses.fields(record_type)]
        assert [name for name, _ in FIELDS[record_type]] == declared
        assert isinstance(sample, record_type)
    assert set(FIELDS) == set(SAMPLES)


def test_the_records_the_node_writes_are_accepted() -> None:
    assert refusal(SAMPLES.values()) is None


@pytest.mark.parametrize("record_type, name", INTEGER_FIELDS, ids=ids(INTEGER_FIELDS))
def test_an_integer_field_holds_int64_max_and_refuses_one_more(record_type: type,
                                                               name: str) -> None:
    assert refusal([with_value(record_type, name, INT64_MAX)]) is None
    assert refusal([with_value(record_type, name, INT64_MIN)]) is None
    found = refused(record_type, name, INT64_MAX + 1)
    assert found.problem == (f"is {INT64_MAX + 1}, outside what SQLite stores as an integer "
                             f"({INT64_MIN}..{INT64_MAX})")
    assert "outside" in refused(record_type, name, INT64_MIN - 1).problem
    assert "not an integer" in refused(record_type, name, "7").problem


@pytest.mark.parametrize("record_type, name", TEXT_FIELDS, ids=ids(TEXT_FIELDS))
def test_a_text_field_refuses_a_lone_surrogate(record_type: type, name: str) -> None:
    found = refused(record_type, name, f"ok{SURROGATE}")
    assert found.problem.startswith("has no UTF-8 form: a lone surrogate '\\ud800' at index 2")
    assert "not text" in refused(record_type, name, b"bytes").problem


@pytest.mark.parametrize("record_type, name", TEXT_FIELDS, ids=ids(TEXT_FIELDS))
def test_a_text_field_holds_the_largest_size_and_refuses_one_byte_more(record_type: type,
                                                                       name: str) -> None:
    assert refusal([with_value(record_type, name, "x" * MAX_VALUE_BYTES)]) is None
    found = refused(record_type, name, "x" * (MAX_VALUE_BYTES + 1))
    assert found.problem == (f"is {MAX_VALUE_BYTES + 1} bytes of UTF-8, more than the "
                             f"{MAX_VALUE_BYTES} it may take")
    # The bound is in bytes of UTF-8: a two-byte character counts twice.
    half = MAX_VALUE_BYTES // 2
    assert refusal([with_value(record_type, name, "é" * half)]) is None
    assert "bytes of UTF-8" in refused(record_type, name, "é" * half + "x").problem


@pytest.mark.parametrize("record_type, name", BLOB_FIELDS, ids=ids(BLOB_FIELDS))
def test_a_blob_field_holds_the_largest_size_and_refuses_one_byte_more(record_type: type,
                                                                       name: str) -> None:
    assert refusal([with_value(record_type, name, b"\x00" * MAX_VALUE_BYTES)]) is None
    found = refused(record_type, name, b"\x00" * (MAX_VALUE_BYTES + 1))
    assert found.problem == (f"is {MAX_VALUE_BYTES + 1} bytes, more than the "
                             f"{MAX_VALUE_BYTES} a value may take")
    assert "not bytes" in refused(record_type, name, "00").problem


@pytest.mark.parametrize("record_type, name", REAL_FIELDS, ids=ids(REAL_FIELDS))
def test_a_time_field_refuses_nan_and_an_integer_past_int64(record_type: type,
                                                            name: str) -> None:
    assert refusal([with_value(record_type, name, math.inf)]) is None
    assert refusal([with_value(record_type, name, INT64_MAX)]) is None
    assert refused(record_type, name, math.nan).problem == "is NaN, which SQLite stores as NULL"
    assert "outside" in refused(record_type, name, INT64_MAX + 1).problem


@pytest.mark.parametrize("record_type, name", fields_of(FLAG), ids=ids(fields_of(FLAG)))
def test_a_flag_field_takes_only_a_bool(record_type: type, name: str) -> None:
    assert refused(record_type, name, "yes").problem == "is a str, not a bool"


@pytest.mark.parametrize("name", [name for _, name in fields_of(INTEGERS)])
def test_a_list_of_integers_is_checked_item_by_item(name: str) -> None:
    assert refusal([with_value(PegoutRecord, name, (0, INT64_MAX))]) is None
    found = refused(PegoutRecord, name, (0, INT64_MAX + 1))
    assert found.problem.startswith(f"[1] is {INT64_MAX + 1}, outside")
    assert refused(PegoutRecord, name, [0, 1]).problem == "is a list, not a tuple"


def test_a_list_of_texts_is_checked_item_by_item_and_bounded_as_a_whole() -> None:
    [(_, name)] = fields_of(TEXTS)
    assert refused(PegoutRecord, name, ("ok", SURROGATE)).problem.startswith(
        "[1] has no UTF-8 form")
    assert refusal([with_value(PegoutRecord, name, ("x" * MAX_VALUE_BYTES,))]) is None
    assert refused(PegoutRecord, name, ("x" * MAX_VALUE_BYTES, "y")).problem.startswith(
        "[1] is 1 bytes of UTF-8, more than the 0")


def test_each_member_of_a_federation_is_checked_field_by_field() -> None:
    [(_, name)] = fields_of(MEMBERS)
    bad_id = (MEMBER, Member(SURROGATE, b"\x03" * 33))
    assert refused(FederationRecord, name, bad_id).problem.startswith(
        "[1].member_id has no UTF-8 form")
    heavy = (Member("m0", b"\x02" * 33, INT64_MAX + 1),)
    assert refused(FederationRecord, name, heavy).problem.startswith("[0].weight is")
    assert refused(FederationRecord, name, ("m0",)).problem == "[0] is a str, not a Member"


def test_a_refusal_names_the_record_by_its_key_in_loggable_text() -> None:
    found = refusal([SAMPLES[MetaValue], PegoutRecord(f"p{SURROGATE}", "00", (), (), "s", 1, 1)])
    assert found is not None
    assert str(found) == ("PegoutRecord 'p\\ud800': request_id has no UTF-8 form: a lone "
                          "surrogate '\\ud800' at index 1 of 'p\\ud800'")
    assert str(found).isascii()
    update = dataclasses.replace(SAMPLES[FederationRecord], effective_height=2**64 - 1)
    assert str(refusal([update])) == (
        "FederationRecord 1: effective_height is 18446744073709551615, outside what SQLite "
        f"stores as an integer ({INT64_MIN}..{INT64_MAX})")


def test_a_long_key_is_cut_and_a_huge_integer_is_described_by_its_size() -> None:
    long_key = refusal([MetaValue("k" * 1000, "v", INT64_MAX + 1)])
    assert long_key is not None and long_key.record == f"MetaValue {'k' * 40!r}... (1000 long)"
    huge = refusal([dataclasses.replace(SAMPLES[FederationRecord], version=10**5000)])
    assert huge is not None
    assert huge.record == "FederationRecord an integer of 16610 bits"
    assert huge.problem.startswith("is an integer of 16610 bits, outside")


def test_what_is_not_a_record_is_refused() -> None:
    found = refusal([SAMPLES[MetaValue], "a string"])
    assert found == Refusal("str", "(record)", "is not a storage record")


def test_a_bool_where_an_int_goes_is_accepted_as_sqlite_stores_it() -> None:
    # The compiled fast test turns it down; the field's own check has the last word.
    assert refusal([with_value(PegoutRecord, "attempt", True)]) is None


def test_a_replacing_resolved_peg_out_is_accepted() -> None:
    record = dataclasses.replace(SAMPLES[PegoutRecord], replaces="p-0", replaced_by="p-2",
                                 payout_sat=90_000, fee_sat=1_000, confirmations=6,
                                 broadcast_at=8.0, resolution="not_paid", resolved_at=9.0)
    assert refusal([record]) is None


@pytest.mark.parametrize("record_type, name", fields_of(RESOLUTION),
                         ids=ids(fields_of(RESOLUTION)))
def test_a_resolution_is_paid_not_paid_or_none(record_type: type, name: str) -> None:
    for word in ("paid", "not_paid", None):
        assert refusal([with_value(record_type, name, word)]) is None
    assert refused(record_type, name, "maybe").problem == (
        "is 'maybe', not one of paid, not_paid or None")
    assert "not one of" in refused(record_type, name, 1).problem


@pytest.mark.parametrize("record_type, name", fields_of(OUTPOINTS),
                         ids=ids(fields_of(OUTPOINTS)))
def test_an_outpoint_has_one_spelling(record_type: type, name: str) -> None:
    txid = "0f" * 32
    assert refusal([with_value(record_type, name, (f"{txid}:{MAX_VOUT}",))]) is None
    for other in (f"{txid.upper()}:0", f"{txid}:00", f"{txid}:01", f"{txid}:{MAX_VOUT + 1}",
                  f"{txid}:", f"{txid[2:]}:0", f"{txid}:-1", f"{txid}: 1", f"{txid}:1\n",
                  f"{txid}:{SURROGATE}"):
        found = refused(record_type, name, (COIN, other))
        assert found.problem.startswith("[1] is "), other
        assert "not an outpoint" in found.problem, other
    assert refused(record_type, name, (f"{txid}:{'1' * 20}",)).problem.startswith(
        f"[0] is '{txid[:40]}'... (85 long), not an outpoint (64 lowercase hex digits, ':', "
        f"an output index up to {MAX_VOUT} without leading zeros) nor a token")
    assert refused(record_type, name, (7,)).problem == "[0] is a int, not text"
    assert refused(record_type, name, [COIN]).problem == "is a list, not a tuple"


@pytest.mark.parametrize("record_type, name", fields_of(OUTPOINTS),
                         ids=ids(fields_of(OUTPOINTS)))
def test_a_reservation_key_may_be_a_named_token_that_no_txid_looks_like(
        record_type: type, name: str) -> None:
    token = "replacement-of:" + "é" * (MAX_TOKEN_CHARS - 15)
    assert refusal([with_value(record_type, name, (COIN, "replacement-of:p-1", token))]) is None
    for other in (token + "x", "Replacement-of:p-1", "replacement-of:", "replacement-of",
                  "replacement-of:a\nb", f"replacement-of:{SURROGATE}", "ab" * 31 + ":0",
                  "-of:p-1", "k" * 33 + ":p-1"):
        found = refused(record_type, name, (COIN, other))
        assert found.problem.startswith("[1] is "), other
    assert refused(record_type, name, ("replacement-of:a\tb",)).problem.endswith(
        "a token with a character that is not printable")


@pytest.mark.parametrize("record_type, name", fields_of(OUTPOINTS),
                         ids=ids(fields_of(OUTPOINTS)))
def test_a_claim_holds_at_most_the_inputs_one_transaction_can_have(record_type: type,
                                                                   name: str) -> None:
    coins = tuple(f"{n:064x}:0" for n in range(MAX_OUTPOINTS + 1))
    assert refusal([with_value(record_type, name, coins[:-1])]) is None
    assert refused(record_type, name, coins).problem == (
        f"has {MAX_OUTPOINTS + 1} outpoints, more than the {MAX_OUTPOINTS} one transaction "
        "can spend")
