"""Footprint: start-up time of `scripts/start`, and the memory of every process of a node.

Both run the node as an operator does, `scripts/start --config FILE` (its
stdout to a file: the daemonized Thespian admin inherits it, and a pipe would
never close), on a config with free ports of its own:

- start-up: from launching `scripts/start` to its `ready:` line, several runs,
  each stopped with SIGTERM and proven gone (no process of it left, its ports
  free) before the next. The runs share one config and data directory, as
  restarts of one node do. The launcher's own log says how much of the time
  was the tree (`Node.start()`), the rest is the interpreter, imports, checks
  and the mock governance server.
- memory: resident memory of each process by role (launcher, mock governance
  server, Thespian admin and logger, each actor) at idle a few seconds after
  `ready:`, at its highest while peg-outs go through (sampled every 100 ms),
  and at idle again afterwards. The node's own mock signs for real (3-of-5,
  two inputs per peg-out); peg-outs go to the bridge in Batches of 250.

Both start the node once uncounted first, with a bytecode cache of its own (see
`bytecode_cache`): the figures are those of a node whose modules are compiled
already, as on any server, not of a first start.

Why not `pegout_node` (bench/pegouts/load.py): it starts the actor system inside the
benchmark's own process, so the Thespian admin, and every actor forked from it,
would begin as a copy of the benchmark (its imports, the peg-outs it prepared)
rather than of the launcher, and there would be no launcher to measure. Here
the benchmark only connects to the running node (`client.connect`), as tools do.

Which memory figure: RSS counts every resident page a process maps, including
those it shares with the process it was forked from (interpreter, imported
modules), so RSS figures overlap and must not be summed. USS is what only that
process holds (what killing it would free); PSS splits each shared page among
its sharers, so the PSS of all processes adds up to the node's real total.
USS and PSS come from /proc/<pid>/smaps_rollup (psutil `memory_full_info`),
cheap enough to sample with RSS every time.

The parts: `launched` (a node under `scripts/start`, and proof it is gone),
`startup`, `sampling` (memory by role), `memory` (the load and the figures)
and `table`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.footprint.memory import ADMIN, LAUNCHER, LOGGER, MOCK, memory
from bench.footprint.startup import startup_times
from bench.footprint.table import print_footprint

__all__ = ["ADMIN", "LAUNCHER", "LOGGER", "MOCK", "measure", "memory", "print_footprint",
           "startup_times"]


def measure(directory: Path, *, runs: int = 5, load_pegouts: int = 2000) -> dict[str, Any]:
    """Both parts: `{"startup": startup_times(runs), "memory": memory(directory, ...)}`."""
    return {"startup": startup_times(runs),
            "memory": memory(directory, load_pegouts=load_pegouts)}
