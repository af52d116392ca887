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

Why not `pegout_node` (bench/pegouts.py): it starts the actor system inside the
benchmark's own process, so the Thespian admin, and every actor forked from it,
would begin as a copy of the benchmark (its imports, the peg-outs it prepared)
rather than of the launcher, and there would be no launcher to measure. Here
the benchmark only attaches to the running node (`Node.attach`), as tools do.

Which memory figure: RSS counts every resident page a process maps, including
those it shares with the process it was forked from (interpreter, imported
modules), so RSS figures overlap and must not be summed. USS is what only that
process holds (what killing it would free); PSS splits each shared page among
its sharers, so the PSS of all processes adds up to the node's real total.
USS and PSS come from /proc/<pid>/smaps_rollup (psutil `memory_full_info`),
cheap enough to sample with RSS every time.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

from runtime.processes import is_alive, kill_all, listening_pid, session_members, wait_gone
from tests.support.launcher import START, Launched, stop
from tests.support.nodes import write_config
from tests.support.ports import port_is_free

READY_TIMEOUT_S = 90.0
# The clock of a start-up run: the ready line is looked for this often (its resolution).
READY_POLL_S = 0.005
GONE_TIMEOUT_S = 15.0
# "Idle" is measured this long after the node is ready (or has worked off the load): long
# enough for the start-up's or the load's transient work (first heartbeats, the first
# status reports, queued replies) to be over.
IDLE_AFTER_S = 3.0
SAMPLE_S = 0.1
BATCH = 250
MB = 1024 * 1024
LAUNCHER = "launcher"
MOCK = "mock_governance"
ADMIN = "thespian_admin"
LOGGER = "thespian_logger"
# The launcher's log line at the end of `Node.start()` (supervision/running.py).
TREE_READY = re.compile(r"node \S+ ready in ([0-9.]+)s")


# -- a node under scripts/start, and proof that it is gone ---------------------------------


@dataclass
class StartedNode:
    launched: Launched
    ports: dict[str, int]
    admin_pid: int
    session_id: int
    ready_s: float  # launch to the `ready:` line
    pids: set[int] = field(default_factory=set)  # every process of it seen so far


def config_ports(config_path: Path) -> dict[str, int]:
    document = yaml.safe_load(config_path.read_text())
    mock = document["governance"]["mock"]
    ports = {"actor_system.admin_port": document["actor_system"]["admin_port"],
             "metrics.port": document["metrics"]["port"]}
    if mock.get("enabled"):
        ports.update({"governance.mock.port": mock["port"],
                      "governance.mock.control_port": mock["control_port"]})
    return ports


def wait_ready_line(launched: Launched, started: float) -> float:
    """Seconds from `started` to the `ready:` line in the launcher's output."""
    deadline = started + READY_TIMEOUT_S
    while True:
        # The line first, the exit after: a launcher that printed ready and died at once
        # counts as started here, and `stop_node` reports its exit code.
        if any(line.startswith("ready:") for line in launched.text().splitlines()):
            return time.perf_counter() - started
        if launched.process.poll() is not None:
            raise RuntimeError(f"scripts/start exited with {launched.process.returncode} "
                               f"before ready: {launched.text()[-2000:]}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"scripts/start printed no ready: line within "
                               f"{READY_TIMEOUT_S:g}s: {launched.text()[-2000:]}")
        time.sleep(READY_POLL_S)


def node_pids(node: StartedNode) -> set[int]:
    """The launcher, its children (the mock) and every process of the actor system's session.

    The admin daemonizes out of the launcher's process tree into a session of its own,
    so the launcher's descendants alone would miss it and every actor."""
    pids = {node.launched.process.pid, *session_members(node.session_id)}
    with suppress(psutil.NoSuchProcess):
        pids |= {child.pid for child in psutil.Process(node.launched.process.pid)
                 .children(recursive=True)}
    return {pid for pid in pids if is_alive(pid)}


@contextmanager
def bytecode_cache(enabled: bool = True) -> Iterator[dict[str, str] | None]:
    """The environment for `scripts/start` with a bytecode cache of its own, or None (inherit).

    Python caches compiled modules unless told not to; a node on a server starts with that
    cache warm. A shell with PYTHONDONTWRITEBYTECODE=1 (this machine's has it) makes every
    start compile the project's modules again, which is time and heap no deployment pays.
    A private cache (PYTHONPYCACHEPREFIX) gives the usual behaviour without writing into
    the repo; the first start fills it, so callers start once uncounted."""
    if not enabled:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="alys-bench-pyc-") as cache:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
        yield env


def launch(config_path: Path, output: Path, env: dict[str, str] | None) -> Launched:
    """`scripts/start --config FILE` as tests/support/launcher.py starts it, in `env`."""
    with output.open("ab") as sink:
        process = subprocess.Popen([str(START), "--config", str(config_path)], stdout=sink,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return Launched(process, config_path, output)


def start_node(config_path: Path, output: Path, env: dict[str, str] | None) -> StartedNode:
    started = time.perf_counter()
    launched = launch(config_path, output, env)
    try:
        ready_s = wait_ready_line(launched, started)
        ports = config_ports(config_path)
        admin_pid = listening_pid(ports["actor_system.admin_port"])
        if admin_pid is None:
            raise RuntimeError("ready, yet nothing listens on the admin port")
        node = StartedNode(launched, ports, admin_pid, os.getsid(admin_pid), ready_s)
        node.pids = node_pids(node)
    except BaseException:
        # A launcher that is up to something but not ready: end it, and what it started.
        stop(launched)
        raise
    return node


def stop_node(node: StartedNode) -> None:
    """SIGTERM the launcher and prove the node gone: no process left, every port free.

    What is left after the launcher's own stop is killed (this benchmark started it)
    and reported as an error: a figure measured beside a leftover is not trusted."""
    node.pids |= node_pids(node)  # a restarted actor has a pid not seen at start
    code = stop(node.launched)
    left = wait_gone(node.pids | set(session_members(node.session_id)), GONE_TIMEOUT_S)
    deadline = time.monotonic() + GONE_TIMEOUT_S
    busy = dict(node.ports)
    while busy and time.monotonic() < deadline:
        busy = {key: port for key, port in busy.items() if not port_is_free(port)}
        if busy:
            time.sleep(0.05)
    if left:
        kill_all(left)
    problems = []
    if code != 0:
        problems.append(f"scripts/start exited with {code}")
    if left:
        problems.append(f"processes left after the stop (killed now): {sorted(left)}")
    if busy:
        problems.append(f"ports still in use: {busy}")
    if problems:
        raise RuntimeError("; ".join(problems) + f"\n{node.launched.text()[-2000:]}")


@contextmanager
def running(config_path: Path, output: Path,
            env: dict[str, str] | None = None) -> Iterator[StartedNode]:
    node = start_node(config_path, output, env)
    try:
        yield node
    finally:
        stop_node(node)


# -- start-up ---------------------------------------------------------------------------


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


# -- memory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    rss: int
    uss: int
    pss: int


def usage(process: psutil.Process) -> Usage | None:
    try:
        full = process.memory_full_info()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None  # it died (a restart): the caller notices by its pid
    return Usage(full.rss, full.uss, full.pss)


def snapshot(roles: dict[str, int]) -> dict[str, Usage]:
    found = {}
    for role, pid in roles.items():
        with suppress(psutil.NoSuchProcess):
            value = usage(psutil.Process(pid))
            if value is not None:
                found[role] = value
    return found


class PeakSampler:
    """Samples every role's memory from its own thread and keeps each one's highest."""

    def __init__(self, roles: dict[str, int], interval_s: float = SAMPLE_S) -> None:
        self.processes: dict[str, psutil.Process] = {}
        for role, pid in roles.items():
            with suppress(psutil.NoSuchProcess):
                self.processes[role] = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_rss: dict[str, int] = {}
        self.peak_uss: dict[str, int] = {}
        self.sweeps = 0
        # CPU this thread spent sampling: what the sampling takes from the machine it
        # measures (its wall time under load is mostly waiting for a core).
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sweep()  # the state at the end counts too

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sweep()

    def sweep(self) -> None:
        started = time.thread_time()
        for role, process in self.processes.items():
            value = usage(process)
            if value is None:
                continue
            self.peak_rss[role] = max(self.peak_rss.get(role, 0), value.rss)
            self.peak_uss[role] = max(self.peak_uss.get(role, 0), value.uss)
        self.sweeps += 1
        self.cpu_s += time.thread_time() - started


def memory_config(directory: Path) -> Path:
    """A config on free ports whose own mock signs as bench/pegouts.py's federation."""
    from bench.pegouts import FEDERATION_SEED, FEDERATION_SIZE, THRESHOLD

    path = write_config(directory)
    document = yaml.safe_load(path.read_text())
    # Only the federation changes; everything else stays the node's default (INFO log,
    # spool broadcaster, durability, health checks).
    document["governance"]["mock"].update({"federation_seed": FEDERATION_SEED,
                                           "federation_size": FEDERATION_SIZE,
                                           "federation_threshold": THRESHOLD})
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def find_roles(attached: Any, node: StartedNode, config: Any) -> dict[str, int]:
    """Pid of every process of the node by role: actors by their name in the node's status,
    the admin by its port, the logger as the one other process of the admin's session, the
    mock from the launcher's run file."""
    from runtime.rundir import run_paths
    from supervision import runfile
    from supervision.tree import actor_names

    report = attached.status()
    if report is None:
        raise RuntimeError("the node's root did not answer NodeStatus")
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
    """`Node.attach` points this process's Thespian log at the node's log directory; put
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
    from bench.pegouts import Requests

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
                   requests: Any, load: list[Any]) -> dict[str, Any]:
    """`memory`'s measurement, on a node started here from `config_path` in `env`."""
    from actors.messages import Batch
    from bench.pegouts import (
        FEDERATION_SIZE,
        INPUTS,
        THRESHOLD,
        Client,
        SpoolWatcher,
        settle,
        wait_spooled,
        warm_up,
    )
    from nodeconfig import load_config
    from supervision.node import Node
    from supervision.tree import actor_names
    from tests.support.stream import wait_state

    config = load_config(config_path)
    load_before = os.getloadavg()[0]
    with _thespian_log_kept(), running(config_path, output, env) as node:
        attached = Node.attach(config)
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
                    attached.asys.tell(client.bridge, Batch(tuple(r.message for r in chunk)))
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


def measure(directory: Path, *, runs: int = 5, load_pegouts: int = 2000) -> dict[str, Any]:
    """Both parts: `{"startup": startup_times(runs), "memory": memory(directory, ...)}`."""
    return {"startup": startup_times(runs),
            "memory": memory(directory, load_pegouts=load_pegouts)}


# -- output -----------------------------------------------------------------------------


def _cell(value: float | None, width: int = 9) -> str:
    return f"{value:>{width}.1f}" if value is not None else f"{'n/a':>{width}}"


def _machine_load(part: dict[str, Any]) -> str:
    before, after = part.get("machine_load_1m") or (None, None)
    return f"machine load (1 min) {before} -> {after}" if before is not None else ""


def print_footprint(figures: dict[str, Any]) -> None:
    """Print `measure`'s result (either part may be missing) as the other sections do."""
    startup = figures.get("startup")
    if startup is not None:
        runs = startup["runs"]
        low, high = startup["spread"]
        tree = startup.get("tree_p50_s")
        machine = _machine_load(startup)
        print(f"start-up: scripts/start -> ready: ({len(runs)} runs, each stopped with "
              f"SIGTERM and proven gone before the next)")
        print(f"  p50 {startup['p50_s']:.3f} s (spread {low:.3f}-{high:.3f} s)"
              + (f"; of which the actor system and tree: p50 {tree:.3f} s"
                 if tree is not None else "")
              + (f"; {machine}" if machine else ""))
        print()
    mem = figures.get("memory")
    if mem is not None:
        load, settings = mem["load"], mem["settings"]
        print(f"memory by process, MB (idle {settings['idle_after_s']:g} s after ready; load: "
              f"{load['pegouts']:,} peg-outs in Batches of {settings['batch']}, "
              f"{settings['federation']} federation, {settings['inputs_per_pegout']} inputs, "
              f"sampled every {settings['sample_interval_s'] * 1000:.0f} ms; RSS includes "
              f"pages shared with the parent, USS only the process's own)")
        print(f"{'process':<20} {'pid':>7} {'idle RSS':>9} {'idle USS':>9} {'load RSS':>9} "
              f"{'load USS':>9} {'after RSS':>9} {'grow RSS':>9} {'grow USS':>9}")
        for role, row in mem["by_role"].items():
            print(f"{role:<20} {row['pid']:>7} " + " ".join(_cell(row[key]) for key in (
                "idle_rss_mb", "idle_uss_mb", "load_rss_mb_max", "load_uss_mb_max",
                "after_rss_mb", "growth_rss_mb", "growth_uss_mb")))
        print(f"  idle, highest actor process: RSS {mem['idle_rss_mb_max']:.1f} MB "
              f"({mem['idle_rss_mb_max_role']}), USS {mem['idle_uss_mb_max']:.1f} MB "
              f"({mem['idle_uss_mb_max_role']}); all processes together (PSS): "
              f"{mem['idle_pss_mb_total']:.1f} MB, {mem['idle_pss_mb_node']:.1f} MB without "
              f"the mock")
        rate = load["pegouts_per_s"]
        print(f"  load: {load['spooled']:,} of {load['pegouts']:,} peg-outs spooled"
              + (f" in {load['seconds']:.1f} s ({rate:,.1f}/s)" if rate is not None else "")
              + f"; {load['samples']} samples, {load['sample_cpu_ms']:.1f} ms of CPU each")
        if load["problem"]:
            print(f"  load: {load['problem']}")
        if machine := _machine_load(mem):
            print(f"  {machine}")
        if mem["restarted"]:
            print(f"  restarted meanwhile (no growth figure): {', '.join(mem['restarted'])}")
