"""Judging a hostile chaos run from outside the node: its SQLite file, the spool, `ps`.

Read-only: the database is opened with `mode=ro`, which WAL lets run beside
the StorageActor, the only writer. Nothing here asks the node what it thinks
happened; the node's counters are what a hostile run is trying to fool.

- stranded: an accepted peg-out that is neither final (`confirmed`, `failed`,
  `replaced`, or `broadcast`, where a spool hand-off rests) nor parked
  (`needs_review`, or `signed` while an emergency halt is in force);
- paid twice: a txid with more than one spool line written by this run;
- lost peg-out: `broadcast` in the database, and not in the spool;
- inconsistent: `failed` in the database, and in the spool (paid, yet
  the node would let it be retried);
- federation versions, against what the run had the mock push: lost (pushed,
  never stored), duplicated (one push stored as two versions, or a version
  twice), wrongly applied (a version stored from a hostile push).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psutil

from actors.messages import PegoutState
from client import NodeClient, NoReply

# `broadcast` is where a peg-out handed to the spool rests: nothing follows it further.
FINAL = frozenset({state.value for state in PegoutState if state.is_final}
                  | {PegoutState.BROADCAST.value})
HALT = "emergency_halt"
SHOWN_IDS = 20  # ids listed in a report, enough to look them up in the log


@dataclass(frozen=True)
class PegoutRow:
    request_id: str
    state: str
    txid: str | None
    series_started_at: float  # 0: at created_at
    created_at: float
    updated_at: float

    @property
    def series_start(self) -> float:
        return self.series_started_at or self.created_at


def _read(db_path: Path, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
    if not db_path.exists():
        return []
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute(sql, tuple(params)).fetchall()


def pegout_rows(db_path: Path, prefix: str) -> dict[str, PegoutRow]:
    # The prefix names the run; `_` and `%` in it are LIKE wildcards, hence the escape.
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = _read(db_path, "SELECT request_id, state, txid, series_started_at, created_at, "
                 "updated_at FROM pegouts WHERE request_id LIKE ? ESCAPE '\\'", (pattern,))
    return {str(r[0]): PegoutRow(str(r[0]), str(r[1]), None if r[2] is None else str(r[2]),
                                 float(r[3]), float(r[4]), float(r[5]))  # type: ignore[arg-type]
            for r in rows}


def halted(db_path: Path) -> bool:
    """Is the federation in force (the highest applied version) an emergency halt?"""
    rows = _read(db_path, "SELECT update_type FROM federations WHERE state = 'applied' "
                 "ORDER BY version DESC LIMIT 1")
    return bool(rows) and rows[0][0] == HALT


def open_pegouts(rows: Mapping[str, PegoutRow], accepted: Iterable[str], *,
                 halt: bool) -> tuple[list[str], list[str]]:
    """(stranded, parked) among `accepted`: not final, and not waiting out a halt."""
    stranded, parked = [], []
    for rid in accepted:
        row = rows.get(rid)
        if row is not None and row.state in FINAL:
            continue
        if row is not None and (row.state == PegoutState.NEEDS_REVIEW.value
                                or (halt and row.state == PegoutState.SIGNED.value)):
            parked.append(rid)
        else:
            stranded.append(rid)  # a row missing for an accepted peg-out is stranded too
    return stranded, parked


def federation_rows(db_path: Path, above: int) -> list[tuple[int, str | None, int, str]]:
    """(version, request_id, threshold, state) of every stored version above `above`."""
    rows = _read(db_path, "SELECT version, request_id, threshold, state FROM federations "
                 "WHERE version > ? ORDER BY version", (above,))
    return [(int(r[0]), None if r[1] is None else str(r[1]), int(r[2]), str(r[3]))  # type: ignore[call-overload]
            for r in rows]


def max_federation_version(db_path: Path) -> int:
    rows = _read(db_path, "SELECT MAX(version) FROM federations")
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0  # type: ignore[call-overload]


@dataclass(frozen=True)
class FederationVerdict:
    pushed: int  # valid versions the run had the mock push
    stored: int
    lost: list[int]
    duplicated: list[int]
    wrongly_applied: list[int]


def judge_federations(db_path: Path, base: int, pushed: Mapping[int, str],
                      threshold: int) -> FederationVerdict:
    """`pushed`: version -> the request id of its valid push (its repeats share it)."""
    rows = federation_rows(db_path, base)
    versions = Counter(version for version, _, _, _ in rows)
    by_push = Counter(rid for _, rid, _, _ in rows if rid is not None)
    stored = {version for version, _, _, _ in rows}
    wrong = sorted({version for version, rid, stored_threshold, _ in rows
                    if pushed.get(version) != rid or stored_threshold != threshold})
    duplicated = sorted({v for v, n in versions.items() if n > 1}
                        | {v for v, rid, _, _ in rows if rid is not None and by_push[rid] > 1})
    return FederationVerdict(pushed=len(pushed), stored=len(stored & set(pushed)),
                             lost=sorted(set(pushed) - stored), duplicated=duplicated,
                             wrongly_applied=wrong)


def memory(node: NodeClient) -> dict[str, int | None]:
    """RSS in KiB of each of the node's actor processes, by name (None: not running)."""
    try:
        report = node.node_status(timeout_s=5.0)
    except NoReply:
        return {}
    rss: dict[str, int | None] = {}
    for actor in report.actors:
        try:
            rss[actor.name] = psutil.Process(actor.pid).memory_info().rss // 1024
        except (psutil.Error, ValueError, TypeError):
            rss[actor.name] = None  # gone between the report and the look
    return rss
