"""Chain metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

UPDATES = Counter("alys_federation_updates_total",
                  "Federation updates, by outcome (applied, scheduled, rejected, duplicate).",
                  ["outcome"])
REJECTED = Counter("alys_federation_updates_rejected_total",
                   "Federation updates rejected, by reason kind.", ["reason"])
APPLIED = Counter("alys_federation_changes_total", "Federation versions put in force.")
HEIGHT = Gauge("alys_chain_height", "The block height the ChainActor works with.",
               multiprocess_mode="livemax")
VERSION = Gauge("alys_federation_version", "The federation version in force.",
                multiprocess_mode="livemax")
HEIGHT_ERRORS = Counter("alys_chain_height_source_errors_total",
                        "Failed reads of the height source.")
PEGOUTS_COMPLETED = Counter("alys_chain_pegouts_completed_total",
                            "PegoutCompleted notices from the BridgeActor.")
