"""Storage metrics (prometheus-client, multiprocess mode like the rest of the node)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WRITE_SECONDS = Histogram(
    "alys_storage_write_seconds", "One write transaction, from BEGIN to COMMIT",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0),
)
RECORDS_WRITTEN = Counter("alys_storage_records_written_total", "Records written", ["owner"])
WRITE_FAILURES = Counter("alys_storage_write_failures_total", "Writes that failed", ["reason"])
FATAL = Counter("alys_storage_fatal_total", "Database errors the StorageActor could not go on with")
# Counted in the owner's process: a write refused for good (a value SQLite cannot hold, or
# a write the StorageActor failed on), by what became of it: `told` (its `otherwise` ran)
# or `dropped` (it had none; the owner logged it at ERROR).
WRITES_REFUSED = Counter("alys_storage_writes_refused_total",
                         "Writes refused for good, by owner and outcome (told, dropped)",
                         ["owner", "outcome"])
