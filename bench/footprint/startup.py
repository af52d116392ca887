"""Start-up time: from launching `scripts/start` to its `ready:` line, several runs.

Each run is stopped with SIGTERM and proven gone (no process of it left, its
ports free) before the next. The runs share one config and data directory,
as restarts of one node do. The launcher's own log says how much of the time
was the tree (`Node.start()`); the rest is the interpreter, imports, checks
and the mock governance server.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.footprint.launched import bytecode_cache, running
from harness.nodes import write_config

# The launcher's log line at the end of `Node.start()` (supervision/running.py).
TREE_READY = re.compile(r"node \S+ ready in ([0-9.]+)s")


def log_size(log_path: Path) -> int:
    return log_path.stat().st_size if log_path.exists() else 0


def tree_ready_s(log_path: Path, offset: int) -> float | None:
    """The launcher's `ready in` figure logged after `offset`: this run's, not an earlier one."""
    with log_path.open("rb") as log:
        log.seek(offset)
        found = TREE_READY.findall(log.read().decode(errors="replace"))
    return float(found[-1]) if found else None


def startup_times(runs: int = 5, *, warm_bytecode: bool = True) -> dict[str, Any]:
    """Seconds from launching `scripts/start --config FILE` to its `ready:` line, `runs` times.

    Returns `p50_s`, `runs` (each run's seconds, in order), `spread` ([min, max]) and, from
    the launcher's log, `tree_p50_s` and `tree_runs`: the part spent in `Node.start()`
    (actor system, tree, every actor answering a Ping); `machine_load_1m` is the 1-minute
    load average before and after. With `warm_bytecode` (see `bytecode_cache`) one more
    start comes first, uncounted (`warmup_s`), to fill the cache. Expects the venv
    installed already: a first run after a fresh install would time pip."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    samples: list[float] = []
    trees: list[float] = []
    load_before = os.getloadavg()[0]
    warmup_s = None
    with (tempfile.TemporaryDirectory(prefix="alys-bench-startup-") as tmp,
          bytecode_cache(warm_bytecode) as env):
        directory = Path(tmp)
        config_path = write_config(directory)
        log_path = Path(yaml.safe_load(config_path.read_text())["logging"]["file"])
        if env is not None:
            with running(config_path, directory / "warmup.out", env) as node:
                warmup_s = round(node.ready_s, 3)
        for index in range(runs):
            offset = log_size(log_path)
            with running(config_path, directory / f"start-{index}.out", env) as node:
                samples.append(node.ready_s)
            tree = tree_ready_s(log_path, offset)
            if tree is not None:
                trees.append(tree)
    return {"p50_s": round(statistics.median(samples), 3),
            "runs": [round(s, 3) for s in samples],
            "spread": [round(min(samples), 3), round(max(samples), 3)],
            "tree_p50_s": round(statistics.median(trees), 3) if trees else None,
            "tree_runs": trees,
            "bytecode_cache": "private, warmed by one uncounted start" if env is not None
            else "as inherited" + (" (PYTHONDONTWRITEBYTECODE: every start compiles)"
                                   if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""),
            "warmup_s": warmup_s,
            # Other work on the machine shows as outliers: the load says whether there was any.
            "machine_load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
