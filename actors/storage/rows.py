"""Rows and records: a table row as a record, a record as the SQL that stores it.

Pure, no connection: `database.py` runs what these build. JSON columns hold
the records' tuples (indices, amounts, failures, members); a guarded upsert
replaces a stored row only with a higher revision. A reservation record's
outpoints are bound as one JSON list and read with `json_each`, so that each
statement's text is the same whatever their number (sqlite3 caches it).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from actors.messages import Member
from actors.storage.records import (
    PRUNABLE,
    Claim,
    Expired,
    FederationRecord,
    InboundHandled,
    MetaValue,
    OutflowEntry,
    PeginRecord,
    PegoutRecord,
    ProposalRecord,
    ProposalSeen,
    Record,
    Release,
    Transfer,
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
        replaces=r["replaces"], replaced_by=r["replaced_by"], payout_sat=r["payout_sat"],
        fee_sat=r["fee_sat"], confirmations=r["confirmations"],
        broadcast_at=r["broadcast_at"], resolution=r["resolution"],
        resolved_at=r["resolved_at"], federation_version=r["federation_version"],
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
        revision=r["revision"], script_type=r["script_type"],
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


def outflow_from_row(r: Row) -> OutflowEntry:
    return OutflowEntry(r["created_at"], r["payout_sat"])


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
            "replaces": record.replaces, "replaced_by": record.replaced_by,
            "payout_sat": record.payout_sat, "fee_sat": record.fee_sat,
            "confirmations": record.confirmations, "broadcast_at": record.broadcast_at,
            "resolution": record.resolution, "resolved_at": record.resolved_at,
            "federation_version": record.federation_version,
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
            "script_type": record.script_type,
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
    if isinstance(record, Release):
        return "DELETE FROM reservations WHERE request_id = ?", (record.request_id,)
    if isinstance(record, Transfer):
        return _TRANSFER, (record.to_id, record.from_id, _json_list(record.outpoints))
    if isinstance(record, Claim):
        raise TypeError("a Claim is written only in a first write, which reports a conflict")
    raise TypeError(f"not a storage record: {type(record).__name__}")


# -- reservations ----------------------------------------------------------------------

# Only what `from_id` holds moves: a copy of the transfer that comes again finds nothing.
_TRANSFER = ("UPDATE reservations SET request_id = ?1 WHERE request_id = ?2 "
             "AND outpoint IN (SELECT value FROM json_each(?3))")

# The first of the claim's outpoints, in its order, held by a peg-out that is neither the
# claimant nor the one it shares coins with (`IS NOT`: shares_with may be NULL).
_CLAIM_CONFLICT = ("SELECT r.outpoint, r.request_id FROM json_each(?1) AS j "
                   "JOIN reservations AS r ON r.outpoint = j.value "
                   "WHERE r.request_id <> ?2 AND r.request_id IS NOT ?3 "
                   "ORDER BY j.key LIMIT 1")

# Run once no conflict stands: what is held already is the claimant's or the shared
# peg-out's, and stays as it is. (`WHERE true` tells SQLite's parser that the ON CONFLICT
# belongs to the INSERT, not to a join.)
_CLAIM_INSERT = ("INSERT INTO reservations (outpoint, request_id, reserved_at) "
                 "SELECT value, ?2, ?3 FROM json_each(?1) WHERE true "
                 "ON CONFLICT (outpoint) DO NOTHING")


def claim_conflict(claim: Claim) -> tuple[str, tuple[SqlValue, ...]]:
    """The query for the reservation that stands in the way of `claim` (`held_from_row`)."""
    return _CLAIM_CONFLICT, (_json_list(claim.outpoints), claim.request_id, claim.shares_with)


def claim_insert(claim: Claim) -> tuple[str, tuple[SqlValue, ...]]:
    """The statement that reserves `claim`'s free outpoints."""
    return _CLAIM_INSERT, (_json_list(claim.outpoints), claim.request_id, claim.at)


def _json_list(items: tuple[str, ...]) -> str:
    return json.dumps(list(items))


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
