"""Growth: start-up time and memory of a node with 0 to 1,000,000 finished peg-outs.

What the bridge and the chain hold, and what they load at start, must not grow
with the node's history. For each size this builds a database of that many
finished (`broadcast`) peg-outs, with realistic rows written by bulk SQL, and
a spool with one line for each, as a node that had broadcast them would have
left (its stored spool offset at the end: every line committed). Then it starts
the node on it with `scripts/start`, as an operator does, and reports the time
to the `ready:` line, and the RSS of the bridge, chain and storage processes a
few seconds after it. A status query for the oldest peg-out proves the rows are
there (answered from SQLite).

Opt-in (`scripts/bench --only growth`): building a million rows writes about
1.5 GB and takes a minute, which the default run does without.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from actors.storage.database import Database
from actors.storage.records import SPOOL_READ_FROM
from bench.footprint.launched import bytecode_cache, running
from bench.footprint.memory import find_roles
from bench.footprint.sampling import snapshot
from client import connect
from harness.nodes import write_config
from nodeconfig import load_config

SIZES = (0, 10_000, 100_000, 1_000_000)
ROLES = ("bridge", "chain", "storage")
IDLE_AFTER_S = 3.0
# About the sizes of a one-input peg-out: unsigned ~125 bytes, signed with a 3-of-5
# witness ~ 500 bytes (hex doubles both).
UNSIGNED_HEX = "02" * 125
SIGNED_HEX = "03" * 500


def _txid(n: int) -> str:
    return f"{n:064x}"


def _rows(count: int, started: float) -> Iterator[tuple[Any, ...]]:
    for n in range(count):
        at = started + n * 0.01
        yield (f"hist-{n:08d}", UNSIGNED_HEX, "[0]", "[50000]", "broadcast", 1, 3, 3, None,
               SIGNED_HEX, _txid(n), "[]", at, at + 5, 3, 0, 0.0)


def build(directory: Path, count: int) -> Path:
    """A node config whose database holds `count` finished peg-outs, and its spool."""
    config_path = write_config(directory)
    config = load_config(config_path)
    Database.open(config.storage.path).close()  # the schema, as the node makes it
    with sqlite3.connect(config.storage.path) as db:
        db.execute("PRAGMA synchronous=OFF")  # a benchmark fixture: no power loss to survive
        db.executemany("INSERT INTO pegouts (request_id, tx_hex, input_indices, amounts, "
                       "state, attempt, signatures_required, signatures_collected, error, "
                       "signed_tx_hex, txid, failures, created_at, updated_at, revision, "
                       "series_failures, series_started_at) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       _rows(count, time.time() - 60 * 86_400))
        spool = Path(config.bridge.broadcaster.spool_path)
        spool.parent.mkdir(parents=True, exist_ok=True)
        with spool.open("wb") as out:
            for start in range(0, count, 10_000):
                out.write("".join(f"{_txid(n)} {SIGNED_HEX}\n"
                                  for n in range(start, min(count, start + 10_000))).encode())
        size = spool.stat().st_size
        db.execute("INSERT INTO meta (key, value, revision) VALUES (?, ?, ?)",
                   (SPOOL_READ_FROM, str(size), size + 1))
    return config_path


def _set_integrity_check(config_path: Path, check: str) -> None:
    document = yaml.safe_load(config_path.read_text())
    document.setdefault("storage", {})["integrity_check"] = check
    config_path.write_text(yaml.safe_dump(document))


def _mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return round(total / 1e6, 1)


def measure(directory: Path, sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    results = []
    with bytecode_cache(True) as env:
        # One uncounted start first: the bytecode cache is then warm, as on a server.
        warm = build(directory / "warmup", 0)
        with running(warm, directory / "warmup.out", env):
            pass
        for count in sizes:
            where = directory / f"n{count}"
            started = time.perf_counter()
            config_path = build(where, count)
            built_s = time.perf_counter() - started
            _set_integrity_check(config_path, "full")
            config = load_config(config_path)
            with running(config_path, where / "start.out", env) as node:
                attached = connect(config)
                roles = find_roles(attached, node, config)
                time.sleep(IDLE_AFTER_S)
                usage = snapshot({role: roles[role] for role in ROLES})
                oldest = attached.pegout_status("hist-00000000").state if count else "none"
            # Again with `storage.integrity_check: header`, the default: start-up without
            # the launcher's full read of the database.
            _set_integrity_check(config_path, "header")
            with running(config_path, where / "start-header.out", env) as quick:
                header_ready_s = quick.ready_s
            results.append({
                "finished_pegouts": count, "ready_s": round(node.ready_s, 3),
                "ready_header_check_s": round(header_ready_s, 3),
                **{f"{role}_rss_mb": round(usage[role].rss / 1e6, 1) for role in ROLES},
                "database_mb": _mb(Path(config.storage.path)),
                "spool_mb": _mb(Path(config.bridge.broadcaster.spool_path)),
                "oldest_status": oldest, "build_s": round(built_s, 1)})
            for path in where.rglob("*"):  # a million rows take a gigabyte: free it at once
                if path.is_file() and path.suffix != ".log":
                    path.unlink()
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    print("growth: a node with N finished peg-outs (SQLite rows and spool lines), started "
          "with scripts/start; RSS a few seconds after ready")
    print(f"{'finished':>10} {'full s':>8} {'header s':>9} {'bridge MB':>10} {'chain MB':>9} "
          f"{'storage MB':>11} {'db MB':>8} {'spool MB':>9}  oldest status")
    for r in results:
        print(f"{r['finished_pegouts']:>10,} {r['ready_s']:>8.2f} "
              f"{r['ready_header_check_s']:>9.2f} {r['bridge_rss_mb']:>10.1f} "
              f"{r['chain_rss_mb']:>9.1f} {r['storage_rss_mb']:>11.1f} {r['database_mb']:>8.1f} "
              f"{r['spool_mb']:>9.1f}  {r['oldest_status']}")


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)
