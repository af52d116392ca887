"""Rows and records: a table row as a record, a record as the SQL that stores it.

Pure, no connection: `database.py` runs what these build. JSON columns hold
the records' tuples (indices, amounts, failures, members); a guarded upsert
replaces a stored row only with a higher revision.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from actors.messages import Member
from actors.storage.records import (
    PRUNABLE,
    Expired,
    FederationRecord,
    InboundHandled,
    MetaValue,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
    Record,
)

# What sqlite3 stores and returns for the node's columns.
SqlValue = int | float | str | bytes | None
# A row by column name. Its values are Any: each column's type is the schema's
# (schema.py), which the type checker cannot see through a query.
Row = dict[str, Any]


# -- row -> record ---------------------------------------------------------------------

def pegout_from_row(r: Row) -> PegoutRecord:
    return PegoutRecord(
        request_id=r["request_id"], tx_hex=r["tx_hex"],
        input_indices=tuple(json.loads(r["input_indices"])),
        amounts=tuple(json.loads(r["amounts"])), state=r["state"],
        attempt=r["attempt"], signatures_required=r["signatures_required"],
        signatures_collected=r["signatures_collected"], error=r["error"],
        signed_tx_hex=r["signed_tx_hex"], txid=r["txid"],
        failures=tuple(json.loads(r["failures"])), created_at=r["created_at"],
        updated_at=r["updated_at"], revision=r["revision"],
        series_failures=r["series_failures"], series_started_at=r["series_started_at"],
    )


def pegin_from_row(r: Row) -> PeginRecord:
    return PeginRecord(r["request_id"], r["btc_txid"], r["vout"], r["amount"],
                       r["evm_address"], r["confirmations"], bool(r["acknowledged"]),
                       r["created_at"], r["revision"])


def federation_from_row(r: Row) -> FederationRecord:
    return FederationRecord(
        version=r["version"], update_type=r["update_type"],
        members=tuple(Member(m, bytes.fromhex(k), w, bool(a))
                      for m, k, w, a in json.loads(r["members"])),
        threshold=r["threshold"], effective_height=r["effective_height"],
        witness_script=bytes(r["witness_script"]), address=r["address"],
        state=r["state"], request_id=r["request_id"], recorded_at=r["recorded_at"],
        revision=r["revision"],
    )


def proposal_from_row(r: Row) -> ProposalRecord:
    return ProposalRecord(r["proposal_id"], r["proposal_type"], bytes(r["data"]),
                          r["voting_deadline"], r["required_votes"], r["received_at"])


def proposal_seen_from_row(r: Row) -> ProposalSeen:
    return ProposalSeen(r["proposal_id"], r["received_at"])


def handled_from_row(r: Row) -> InboundHandled:
    return InboundHandled(r["request_id"], r["owner"], r["outcome"], r["at"])


def meta_from_row(r: Row) -> MetaValue:
    return MetaValue(r["key"], r["value"], r["revision"])


# -- record -> SQL ---------------------------------------------------------------------

def upsert(record: Record) -> tuple[str, tuple[SqlValue, ...]]:
    """The statement that stores `record` and its values to bind."""
    if isinstance(record, PegoutRecord):
        return _guarded("pegouts", ("request_id",), {
            "request_id": record.request_id, "tx_hex": record.tx_hex,
            "input_indices": json.dumps(list(record.input_indices)),
            "amounts": json.dumps(list(record.amounts)), "state": record.state,
            "attempt": record.attempt, "signatures_required": record.signatures_required,
            "signatures_collected": record.signatures_collected, "error": record.error,
            "signed_tx_hex": record.signed_tx_hex, "txid": record.txid,
            "failures": json.dumps(list(record.failures)), "created_at": record.created_at,
            "updated_at": record.updated_at, "revision": record.revision,
            "series_failures": record.series_failures,
            "series_started_at": record.series_started_at,
        })
    if isinstance(record, PeginRecord):
        return _guarded("pegins", ("request_id",), {
            "request_id": record.request_id, "btc_txid": record.btc_txid, "vout": record.vout,
            "amount": record.amount, "evm_address": record.evm_address,
            "confirmations": record.confirmations, "acknowledged": int(record.acknowledged),
            "created_at": record.created_at, "revision": record.revision,
        })
    if isinstance(record, FederationRecord):
        members = [[m.member_id, m.public_key.hex(), m.weight, m.active] for m in record.members]
        return _guarded("federations", ("version",), {
            "version": record.version, "update_type": record.update_type,
            "members": json.dumps(members), "threshold": record.threshold,
            "effective_height": record.effective_height,
            "witness_script": record.witness_script, "address": record.address,
            "state": record.state, "request_id": record.request_id,
            "recorded_at": record.recorded_at, "revision": record.revision,
        })
    if isinstance(record, MetaValue):
        return _guarded("meta", ("key",), {"key": record.key, "value": record.value,
                                           "revision": record.revision})
    if isinstance(record, ProposalRecord):
        # A proposal never changes: the first copy stays.
        return (
            "INSERT INTO proposals VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (record.proposal_id, record.proposal_type, record.data, record.voting_deadline,
             record.required_votes, record.received_at),
        )
    if isinstance(record, InboundHandled):
        return (
            "INSERT INTO inbound_handled VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (record.request_id, record.owner, record.outcome, record.at),
        )
    if isinstance(record, Expired):
        column = PRUNABLE.get(record.table)
        if column is None:
            raise TypeError(f"{record.table!r} is not a table that retention prunes")
        if record.table == "inbound_handled":
            return (f"DELETE FROM inbound_handled WHERE owner = ? AND {column} < ?",
                    (record.owner, record.before))
        return f"DELETE FROM {record.table} WHERE {column} < ?", (record.before,)
    raise TypeError(f"not a storage record: {type(record).__name__}")


def _guarded(table: str, key: tuple[str, ...],
             row: dict[str, SqlValue]) -> tuple[str, tuple[SqlValue, ...]]:
    """An upsert that replaces the stored row only with a higher revision."""
    return _guarded_sql(table, key, tuple(row)), tuple(row.values())


@cache
def if_absent(upsert_sql: str) -> str:
    """The guarded upsert's INSERT, with its update replaced by nothing."""
    return upsert_sql.split(" ON CONFLICT ", 1)[0] + " ON CONFLICT DO NOTHING"


@cache
def _guarded_sql(table: str, key: tuple[str, ...], columns: tuple[str, ...]) -> str:
    # Built once per table: it was a sixth of the StorageActor's time when built per row.
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
            f"WHERE excluded.revision > {table}.revision")
