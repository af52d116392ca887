"""Memory of every process of a node started by `scripts/start`, by role, idle, under
peg-out load and idle again (see the package's doc for which figure means what).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import yaml

from actors.messages import Batch
from bench.footprint.launched import StartedNode, bytecode_cache, running
from bench.footprint.sampling import SAMPLE_S, PeakSampler, snapshot
from bench.pegouts.bridge import Client, settle, wait_spooled, warm_up
from bench.pegouts.load import (
    FEDERATION_SEED,
    FEDERATION_SIZE,
    INPUTS,
    THRESHOLD,
    Request,
    Requests,
    SpoolWatcher,
)
from client import NodeClient, connect
from harness.nodes import write_config
from harness.stream import wait_state
from nodeconfig import NodeConfig, load_config
from runtime.processes import session_members
from runtime.rundir import run_paths
from supervision import runfile
from supervision.tree import actor_names

# "Idle" is measured this long after the node is ready (or has worked off the load): long
# enough for the start-up's or the load's transient work (first heartbeats, the first
# status reports, queued replies) to be over.
IDLE_AFTER_S = 3.0
BATCH = 250
MB = 1024 * 1024
LAUNCHER = "launcher"
MOCK = "mock_governance"
ADMIN = "thespian_admin"
LOGGER = "thespian_logger"


def memory_config(directory: Path) -> Path:
    """A config on free ports whose own mock signs as the peg-out benchmarks' federation."""
    path = write_config(directory)
    document = yaml.safe_load(path.read_text())
    # Only the federation changes; everything else stays the node's default (INFO log,
    # spool broadcaster, durability, health checks).
    document["governance"]["mock"].update({"federation_seed": FEDERATION_SEED,
                                           "federation_size": FEDERATION_SIZE,
                                           "federation_threshold": THRESHOLD})
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def find_roles(attached: NodeClient, node: StartedNode, config: NodeConfig) -> dict[str, int]:
    """Pid of every process of the node by role: actors by their name in the node's status,
    the admin by its port, the logger as the one other process of the admin's session, the
    mock from the launcher's run file."""
    report = attached.node_status()
    actors = {a.name: a.pid for a in report.actors if a.pid}
    missing = [name for name in actor_names() if name not in actors]
    if missing:
        raise RuntimeError(f"actors without a process in the node's status: {missing}")
    roles: dict[str, int] = {LAUNCHER: node.launched.process.pid}
    record = runfile.read(run_paths(config).run_file)
    if record is not None and record.mock_pid is not None:
        roles[MOCK] = record.mock_pid
    roles[ADMIN] = node.admin_pid
    others = sorted(set(session_members(node.session_id)) - {node.admin_pid, *actors.values()})
    # Thespian titles its logger "logger ActorAddr-…"; the title settles it if there were
    # ever more than one candidate (a transient actor of a tool, say).
    loggers = [pid for pid in others if _title(pid).startswith("logger")] or others[:1]
    for pid in others:
        roles[LOGGER if pid == loggers[0] else f"other-{pid}"] = pid
    roles.update({name: actors[name] for name in actor_names()})
    return roles


def _title(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return ""


def _mb(value: int | None) -> float | None:
    return round(value / MB, 1) if value is not None else None


def _diff(after: float | None, before: float | None) -> float | None:
    return round(after - before, 1) if after is not None and before is not None else None


@contextmanager
def _thespian_log_kept() -> Iterator[None]:
    """`client.connect` points this process's Thespian log at the node's log directory; put
    the variable back so later work in this process does not log into a removed one."""
    saved = os.environ.get("THESPLOG_FILE")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("THESPLOG_FILE", None)
        else:
            os.environ["THESPLOG_FILE"] = saved


def memory(directory: Path, *, load_pegouts: int = 2000,
           warm_bytecode: bool = True) -> dict[str, Any]:
    """Memory of every process of a node started by `scripts/start`, by role, in MB.

    `by_role[role]` holds `pid`, `idle_{rss,uss,pss}_mb` (`IDLE_AFTER_S` after ready),
    `load_{rss,uss}_mb_max` (the highest of the samples taken every `SAMPLE_S` while
    `load_pegouts` peg-outs go from the bridge to the spool), `after_{rss,uss}_mb` (idle
    again) and `growth_{rss,uss}_mb` (after - idle; None for a process restarted
    meanwhile). Roles: `launcher`, `mock_governance`, `thespian_admin`, `thespian_logger`,
    then each actor by name. `idle_rss_mb_max` / `idle_uss_mb_max` are the highest over the
    actor processes (`*_role` says which one); `idle_pss_mb_total` is the memory of every
    process together, `idle_pss_mb_node` the same without the mock. `load` describes the
    load; `restarted` lists the roles restarted meanwhile; `machine_load_1m` is the 1-minute
    load average before and after. With `warm_bytecode` the node starts once uncounted
    first, so that the measured one imports from a warm bytecode cache (see
    `bytecode_cache`)."""
    if "grpc" in sys.modules:
        # This process attaches a Thespian ActorSystem handle; the rest of the benchmark
        # forks actor systems from it, and gRPC must never be initialised before a fork.
        raise RuntimeError("grpc is imported in the benchmark process")
    if load_pegouts < 1:
        raise ValueError("load_pegouts must be at least 1")
    directory.mkdir(parents=True, exist_ok=True)
    config_path = memory_config(directory)
    requests = Requests()
    # Built before the node starts: making 2,000 transactions takes this process seconds
    # of CPU, which on a small machine would otherwise compete with the node being measured.
    load = requests.make("footprint", load_pegouts)
    with bytecode_cache(warm_bytecode) as env:
        if env is not None:
            with running(config_path, directory / "warmup.out", env):
                pass
        figures = measure_memory(config_path, directory / "start.out", env, requests, load)
    figures["settings"]["bytecode_cache"] = "private, warm" if env is not None else "as inherited"
    return figures


def measure_memory(config_path: Path, output: Path, env: dict[str, str] | None,
                   requests: Requests, load: list[Request]) -> dict[str, Any]:
    """`memory`'s measurement, on a node started here from `config_path` in `env`."""
    config = load_config(config_path)
    load_before = os.getloadavg()[0]
    with _thespian_log_kept(), running(config_path, output, env) as node:
        attached = connect(config)
        wait_state(attached, "connected")
        client = Client(attached)
        roles = find_roles(attached, node, config)
        time.sleep(IDLE_AFTER_S)
        idle = snapshot(roles)

        watcher = SpoolWatcher(Path(config.bridge.broadcaster.spool_path), interval_s=0.01)
        watcher.start()
        try:
            with PeakSampler(roles) as sampler:
                warm_up(client, watcher, requests)  # retries until the federation is known
                sent_at: dict[str, float] = {}
                for start in range(0, len(load), BATCH):
                    chunk = load[start:start + BATCH]
                    now = time.perf_counter()
                    sent_at.update((request.txid, now) for request in chunk)
                    attached.tell(client.bridge, Batch(tuple(r.message for r in chunk)))
                    client.drain(0.001)  # replies left unread slow the bridge's transport
                outcome = wait_spooled(client, watcher, load, sent_at)
        finally:
            watcher.stop()
        settle(client)
        time.sleep(IDLE_AFTER_S)
        roles_after = find_roles(attached, node, config)
        after = snapshot(roles_after)

    restarted = sorted(role for role in roles if roles_after.get(role) != roles[role])
    by_role: dict[str, dict[str, Any]] = {}
    for role, pid in roles.items():
        before, later = idle.get(role), after.get(role)
        same = role not in restarted
        row = {
            "pid": pid,
            "idle_rss_mb": _mb(before.rss if before else None),
            "idle_uss_mb": _mb(before.uss if before else None),
            "idle_pss_mb": _mb(before.pss if before else None),
            "load_rss_mb_max": _mb(sampler.peak_rss.get(role)),
            "load_uss_mb_max": _mb(sampler.peak_uss.get(role)),
            "after_rss_mb": _mb(later.rss if later else None),
            "after_uss_mb": _mb(later.uss if later else None),
        }
        row["growth_rss_mb"] = _diff(row["after_rss_mb"], row["idle_rss_mb"]) if same else None
        row["growth_uss_mb"] = _diff(row["after_uss_mb"], row["idle_uss_mb"]) if same else None
        by_role[role] = row

    actors = [name for name in actor_names() if by_role[name]["idle_rss_mb"] is not None]
    top_rss = max(actors, key=lambda name: by_role[name]["idle_rss_mb"])
    top_uss = max(actors, key=lambda name: by_role[name]["idle_uss_mb"])
    span = outcome.last_seen - outcome.first_send
    return {
        "by_role": by_role,
        "idle_rss_mb_max": by_role[top_rss]["idle_rss_mb"],
        "idle_rss_mb_max_role": top_rss,
        "idle_uss_mb_max": by_role[top_uss]["idle_uss_mb"],
        "idle_uss_mb_max_role": top_uss,
        "idle_pss_mb_total": round(sum(v.pss for v in idle.values()) / MB, 1),
        # Without the mock: the node as it runs against a real governance server.
        "idle_pss_mb_node": round(sum(v.pss for r, v in idle.items() if r != MOCK) / MB, 1),
        "load": {
            "pegouts": len(load),
            "spooled": len(outcome.latencies_ms),
            "problem": outcome.problem,
            "seconds": round(span, 2) if span > 0 else None,
            "pegouts_per_s": round(len(outcome.latencies_ms) / span, 1) if span > 0 else None,
            "samples": sampler.sweeps,
            "sample_cpu_ms": round(sampler.cpu_s / max(1, sampler.sweeps) * 1000, 2),
        },
        "restarted": restarted,
        "machine_load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "settings": {
            "federation": f"{THRESHOLD}-of-{FEDERATION_SIZE}",
            "inputs_per_pegout": INPUTS,
            "batch": BATCH,
            "idle_after_s": IDLE_AFTER_S,
            "sample_interval_s": SAMPLE_S,
            "log_level": config.logging.level,
            "broadcaster": config.bridge.broadcaster.kind,
        },
    }
