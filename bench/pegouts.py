"""Peg-outs end to end on real processes: `InitiatePegout` until the signed transaction is spooled.

A real mock governance process signs with a 3-of-5 test federation (two
inputs per peg-out: six ECDSA signatures made by the mock and verified by
the bridge); the node runs with its default durability (SQLite in WAL mode
with `synchronous=FULL`, the spool fsynced on every append), its default
health checks and its default log level. Every peg-out has its own seed, so
its own txid.

Where the clock stops: at the txid's line in the spool, visible and durable.
The bridge appends `<txid> <raw hex>` and fsyncs before it records the
peg-out as `broadcast`, so the line is the moment of broadcast. A thread of
this process polls the file every millisecond, fsyncs its own descriptor when
the file grew (which returns once those bytes are on disk, so no earlier
than the bridge's own fsync) and only then reads the clock. The error is the
poll interval, about 1 ms, and the measurement sends nothing to the node.
Polling `GetPegoutStatus` with `ask` was the other choice: each ask queues
behind the bridge's own work (so it measures the bridge's backlog as well)
and adds load to the very process being measured.

Phases, each started once the node has worked off the previous one:

- one at a time: K peg-outs, each sent (`tell`) once the previous one is in
  the spool;
- at once: N peg-outs sent by single `tell`s as fast as this process can
  (one Thespian message per peg-out, as a client would send them); the rate
  is N over the time from the first send to the last spool line, latency
  runs from each peg-out's own send;
- offered load: open loop at fixed rates for a few seconds each. Latency
  runs from the time a peg-out was due, not from when the `tell` started: a
  `tell` returns only once the bridge's process has read it, so a busy
  bridge also delays the sender, and that wait is part of the latency.

A figure that could not be measured is None, with the reason in
`null_reasons`. That includes a phase during which an actor of the node was
restarted (under a burst the bridge's supervisor may find it hung): its
peg-outs are still driven to the spool (those the dead bridge never accepted
are sent again, as a client would), but its figures would describe a restart.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thespian.actors import ActorSystemFailure

from actors.messages import (
    Batch,
    InitiatePegout,
    ListPegouts,
    PegoutAccepted,
    PegoutList,
    PegoutRejected,
)
from bench.recovery import percentile
from btc.federation import witness_script
from btc.pegout import parse_pegout
from btc.testing import make_unsigned_pegout
from mock_governance.federation import federation_keys
from tests.support.mock import start_mock_governance
from tests.support.nodes import running_node
from tests.support.stream import wait_state

FEDERATION_SEED = "bench-pegouts"
FEDERATION_SIZE = 5
THRESHOLD = 3
INPUTS = 2
WARMUP = 5
BURST_BATCH = 250
POLL_S = 0.001
# A phase is given up when the spool has not grown for this long (a peg-out
# that never comes), rather than after a fixed time that a slow machine might
# need in full.
STALL_S = 30.0
# Without progress for this long, check whether the bridge was replaced: what
# was told to the dead one and never accepted is lost and must be sent again.
RESCUE_AFTER_S = 2.0
LISTEN_S = 0.002
# Thespian treats a zero timeout as "do not even look": a look needs a sliver.
MIN_LISTEN_S = 0.0005
# Between phases: the node counts as idle once every worker answers a Ping this
# fast several times in a row (a Pong waits behind the actor's queued sends).
IDLE_PING_S = 0.02
IDLE_PINGS = 3
SETTLE_TIMEOUT_S = 120.0
WORKERS = ("bridge", "stream", "storage", "chain")
# What the node's code fixes (StorageActor's PRAGMAs, SpoolBroadcaster's appends);
# the rest of the settings are read from the node's config when it runs.
DURABILITY = {"sqlite": "WAL, synchronous=FULL", "spool": "fsync per append"}


@dataclass(frozen=True)
class PegoutPlan:
    singles: int = 50
    burst: int = 1000
    rates: tuple[float, ...] = (10.0, 100.0, 300.0)
    rate_seconds: float = 5.0
    runs: int = 1  # each figure is the median of this many runs, with their spread
    # Growth: latency at `growth_rate` with transactions padded by these many bytes,
    # and bursts of these many peg-outs in flight at once.
    paddings: tuple[int, ...] = ()
    growth_rate: float = 100.0
    bursts: tuple[int, ...] = ()


@dataclass
class PegoutFigures:
    plan: PegoutPlan
    values: dict[str, float | int | None] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    null_reasons: dict[str, str] = field(default_factory=dict)
    restarts: dict[str, list[str]] = field(default_factory=dict)  # phase -> restarted actors

    runs: dict[str, list[float | int | None]] = field(default_factory=dict)

    def put(self, key: str, value: float | int | None, reason: str | None = None) -> None:
        """One run's figure; the value kept is the median of the runs so far, or None (with
        the reason) as soon as one run could not measure it."""
        runs = self.runs.setdefault(key, [])
        runs.append(value)
        if value is None:
            self.null_reasons[key] = reason or "not measured"
        if key in self.null_reasons:
            self.values[key] = None
            return
        measured = [v for v in runs if v is not None]
        self.values[key] = round(statistics.median(measured), 1)

    def spread(self, key: str) -> list[float] | None:
        measured = [v for v in self.runs.get(key, []) if v is not None]
        return [min(measured), max(measured)] if len(measured) > 1 else None

    def as_json(self) -> dict[str, Any]:
        return {**self.values, "settings": dict(self.settings),
                "spread": {k: s for k in self.values if (s := self.spread(k)) is not None},
                "null_reasons": dict(self.null_reasons),
                "restarts": {phase: list(names) for phase, names in self.restarts.items()}}


def rate_key(rate: float) -> str:
    return f"{rate:g}"


# -- the spool, watched -----------------------------------------------------------------


class SpoolWatcher:
    """Records, from its own thread, when each txid's line is first in the spool and durable."""

    def __init__(self, path: Path, interval_s: float = POLL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self.seen: dict[str, float] = {}
        self.duplicates = 0
        self._fd = -1
        self._offset = 0
        self._partial = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spool-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            time.sleep(self.interval_s)

    def poll(self) -> None:
        if self._fd < 0:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return  # the bridge creates it when it starts
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        # The bridge writes, then fsyncs: this fsync returns once what was read is on
        # disk, so the clock below never runs ahead of the bridge's own fsync.
        os.fsync(self._fd)
        now = time.perf_counter()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # a write seen half done: the rest comes next poll
        for line in lines:
            txid = line.split(b" ", 1)[0].decode("ascii")
            if txid in self.seen:
                self.duplicates += 1
            else:
                self.seen[txid] = now


# -- talking to the bridge --------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    message: InitiatePegout
    txid: str


class Requests:
    """Peg-outs with seeds never used before in this run, so every txid is new."""

    def __init__(self, padding_bytes: int = 0) -> None:
        self.script = witness_script(federation_keys(FEDERATION_SEED, FEDERATION_SIZE), THRESHOLD)
        self.next_seed = 1
        self.padding_bytes = padding_bytes  # grows each transaction by about this much

    def make(self, label: str, count: int) -> list[Request]:
        made = []
        for _ in range(count):
            seed, self.next_seed = self.next_seed, self.next_seed + 1
            tx_hex, indices, amounts = make_unsigned_pegout(
                self.script, n_inputs=INPUTS, seed=seed, padding_bytes=self.padding_bytes)
            # A segwit signature leaves the txid as it is: the unsigned one is the spooled one.
            txid = parse_pegout(tx_hex, indices, amounts, max_pegout_sat=sum(amounts)).txid
            made.append(Request(InitiatePegout(f"bench-{label}-{seed}", tx_hex, indices,
                                               amounts), txid))
        return made


class Client:
    """Tells the bridge and takes in its replies at once: a reply this process leaves unread
    stays queued in the bridge's process, whose Thespian transport slows with its queue."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.bridge = self._find_bridge()
        self.accepted: set[str] = set()
        self.rejected: dict[str, str] = {}
        self.resent = 0
        # Which bridge each request was last told to: a tell the bridge has read but not yet
        # handled dies with it, so after a restart whatever is not accepted goes out again.
        self.generation = 0
        self.told_to: dict[str, int] = {}

    def _find_bridge(self) -> Any:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            address = self.node.lookup("bridge", timeout_s=1.0)
            if address is not None and self.node.ping(address, timeout_s=1.0) is not None:
                return address
            time.sleep(0.05)
        raise RuntimeError(f"no bridge answered within {SETTLE_TIMEOUT_S:g}s")

    def replaced(self) -> bool:
        """Look the bridge up again; True if it has a new address (it was restarted)."""
        address = self._find_bridge()
        changed, self.bridge = address != self.bridge, address
        if changed:
            self.generation += 1
        return changed

    def send_many(self, requests: Sequence[Request]) -> None:
        """One Thespian send for all of them (a single request goes as itself)."""
        if len(requests) == 1:
            self.send(requests[0])
            return
        self._tell(requests, Batch(tuple(r.message for r in requests)))

    def send(self, request: Request) -> None:
        self._tell([request], request.message)

    def _tell(self, requests: Sequence[Request], message: Any) -> None:
        try:
            self._note_told(requests)
            self.node.asys.tell(self.bridge, message)
        except ActorSystemFailure:
            # The bridge died under us; its supervisor starts another: tell that one.
            self.replaced()
            self._note_told(requests)
            self.node.asys.tell(self.bridge, message)
            self.resent += len(requests)
        self.drain(MIN_LISTEN_S)

    def _note_told(self, requests: Sequence[Request]) -> None:
        for request in requests:
            self.told_to[request.message.request_id] = self.generation

    def lost(self, requests: Sequence[Request]) -> list[Request]:
        """Requests told to a bridge that has been replaced since, and never answered."""
        return [r for r in requests if r.message.request_id not in self.accepted
                and r.message.request_id not in self.rejected
                and self.told_to.get(r.message.request_id, self.generation) < self.generation]

    def drain(self, budget_s: float) -> None:
        """Take replies for up to `budget_s` (less when none is waiting)."""
        deadline = time.perf_counter() + budget_s
        while True:
            reply = self.node.listen(max(MIN_LISTEN_S, deadline - time.perf_counter()))
            if reply is None:
                return
            self._note(reply)
            if time.perf_counter() >= deadline:
                return

    def _note(self, reply: Any) -> None:
        for item in reply.items if isinstance(reply, Batch) else (reply,):
            if isinstance(item, PegoutAccepted):
                self.accepted.add(item.request_id)
            elif isinstance(item, PegoutRejected):
                self.rejected[item.request_id] = item.reason

    def open_count(self) -> int:
        """Peg-outs the bridge holds that are neither broadcast nor failed yet."""
        count = 0
        # Asked by state: the whole list would carry every signed transaction so far.
        for state in ("awaiting_signatures", "signed"):
            reply = self.node.ask(self.bridge, ListPegouts(state), timeout_s=30.0,
                                  expect=PegoutList)
            if not isinstance(reply, PegoutList):
                raise RuntimeError("the bridge did not list its peg-outs")
            count += len(reply.items)
        return count


@dataclass
class Outcome:
    """One phase: latencies in ms of the peg-outs that reached the spool, or why not all did."""

    latencies_ms: list[float]
    problem: str | None
    first_send: float = 0.0
    last_seen: float = 0.0


def wait_spooled(client: Client, watcher: SpoolWatcher, requests: Sequence[Request],
                 started: dict[str, float]) -> Outcome:
    """Until every request is in the spool (or was refused, or the spool stopped growing)."""
    by_id = {r.message.request_id: r for r in requests}
    missing = {r.txid for r in requests}
    progress_at = rescued_at = time.perf_counter()
    while missing:
        client.drain(LISTEN_S)
        for rid in client.rejected.keys() & by_id.keys():
            missing.discard(by_id[rid].txid)
        still = {txid for txid in missing if txid not in watcher.seen}
        now = time.perf_counter()
        if len(still) < len(missing):
            progress_at = now
        missing = still
        if missing and now - max(progress_at, rescued_at) > RESCUE_AFTER_S:
            rescued_at = now
            client.replaced()
            for request in client.lost(requests):
                client.send(request)
                client.resent += 1
        if missing and now - progress_at > STALL_S:
            break
    refused = [rid for rid in by_id if rid in client.rejected]
    problem = None
    if refused:
        problem = (f"{len(refused)} of {len(requests)} peg-outs refused, e.g. "
                   f"{client.rejected[refused[0]]!r}")
    elif missing:
        problem = (f"{len(missing)} of {len(requests)} peg-outs not in the spool "
                   f"({STALL_S:g}s without progress)")
    seen = [r.txid for r in requests if r.txid in watcher.seen]
    return Outcome([(watcher.seen[t] - started[t]) * 1000 for t in seen], problem,
                   min(started.values(), default=0.0),
                   max((watcher.seen[t] for t in seen), default=0.0))


def actor_pids(node: Any) -> dict[str, int | None]:
    report = node.status()
    return {a.name: a.pid for a in report.actors} if report is not None else {}


def settle(client: Client) -> None:
    """Wait until the node has worked off what came before: every peg-out broadcast and every
    worker quick to answer, so that a phase never pays for the previous one's tail."""
    node = client.node
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while client.open_count():
        if time.monotonic() > deadline:
            raise RuntimeError("peg-outs stay open: the node does not settle")
        client.drain(0.05)
    quick = 0
    while quick < IDLE_PINGS:
        if time.monotonic() > deadline:
            raise RuntimeError("the node's workers stay slow to answer: it does not settle")
        started = time.perf_counter()
        answered = all(node.ping_by_name(name) is not None for name in WORKERS)
        quick = quick + 1 if answered and time.perf_counter() - started < IDLE_PING_S else 0
        client.drain(0.05)


@contextmanager
def phase(figures: PegoutFigures, client: Client, name: str) -> Iterator[list[str]]:
    """Settle first; afterwards, the actors restarted meanwhile (in the yielded list)."""
    settle(client)
    before = actor_pids(client.node)
    restarted: list[str] = []
    yield restarted
    after = actor_pids(client.node)
    restarted.extend(sorted(n for n, pid in before.items() if after.get(n) != pid))
    if restarted:
        figures.restarts[name] = restarted


def put_latencies(figures: PegoutFigures, keys: tuple[str, str, str], outcome: Outcome,
                  restarted: list[str]) -> None:
    problem = outcome.problem
    if problem is None and restarted:
        problem = restart_reason(restarted, outcome.latencies_ms)
    if problem is not None or not outcome.latencies_ms:
        for key in keys:
            figures.put(key, None, problem or "no peg-out was sent")
        return
    for key, fraction in zip(keys, (0.5, 0.99, 1.0), strict=True):
        figures.put(key, round(percentile(outcome.latencies_ms, fraction), 1))


def restart_reason(restarted: list[str], latencies_ms: list[float]) -> str:
    worst = f"; with it, p99 {percentile(latencies_ms, 0.99):.0f} ms" if latencies_ms else ""
    return (f"restarted during this phase: {', '.join(restarted)} (see the node's log for "
            f"why){worst}")


# -- the phases -------------------------------------------------------------------------


def one_at_a_time(client: Client, watcher: SpoolWatcher, requests: Sequence[Request]) -> Outcome:
    started: dict[str, float] = {}
    latencies: list[float] = []
    for request in requests:
        started[request.txid] = time.perf_counter()
        client.send(request)
        outcome = wait_spooled(client, watcher, [request], started)
        if outcome.problem is not None:
            return Outcome(latencies, outcome.problem)
        latencies.extend(outcome.latencies_ms)
    return Outcome(latencies, None)


def at_once(client: Client, watcher: SpoolWatcher,
            requests: Sequence[Request]) -> tuple[Outcome, float | None]:
    """Every request sent back to back, in Batches of `BURST_BATCH` (as a client with many
    peg-outs should send them); the outcome and the send rate achieved."""
    started: dict[str, float] = {}
    for start in range(0, len(requests), BURST_BATCH):
        chunk = requests[start:start + BURST_BATCH]
        now = time.perf_counter()
        for request in chunk:
            started[request.txid] = now
        client.send_many(chunk)
    return wait_spooled(client, watcher, requests, started), send_rate(list(started.values()))


def offered(client: Client, watcher: SpoolWatcher, requests: Sequence[Request],
            rate: float) -> tuple[Outcome, float | None]:
    """Open loop at `rate`: each request has a due time, whatever happened to the ones before;
    the ones due by the time the client gets to send go together in one Batch (a single one
    alone). Latency runs from each due time, so a client that falls behind shows up in it."""
    due_at: dict[str, float] = {}
    sent_at: list[float] = []
    begin = time.perf_counter() + 0.01
    dues = [begin + index / rate for index in range(len(requests))]
    index = 0
    while index < len(requests):
        while (left := dues[index] - time.perf_counter()) > 0:
            client.drain(min(left, LISTEN_S))
        now = time.perf_counter()
        end = index
        while end < len(requests) and dues[end] <= now:
            due_at[requests[end].txid] = dues[end]
            sent_at.append(now)
            end += 1
        client.send_many(requests[index:end])
        index = end
    return wait_spooled(client, watcher, requests, due_at), send_rate(sent_at)


def send_rate(sent_at: list[float]) -> float | None:
    """Sends per second: the intervals between the first and the last send over their span."""
    span = max(sent_at, default=0.0) - min(sent_at, default=0.0)
    return (len(sent_at) - 1) / span if span > 0 else None


def warm_up(client: Client, watcher: SpoolWatcher, requests: Requests) -> None:
    """A few peg-outs through the whole path first: connections, caches, the federation."""
    deadline = time.monotonic() + 60
    while True:
        batch = requests.make("warmup", WARMUP)
        started = {}
        for request in batch:
            started[request.txid] = time.perf_counter()
            client.send(request)
        outcome = wait_spooled(client, watcher, batch, started)
        if outcome.problem is None:
            return
        # Right after the start the bridge may not know the federation yet: try again.
        if time.monotonic() > deadline:
            raise RuntimeError(f"peg-outs do not go through: {outcome.problem}")
        time.sleep(0.2)


# -- the run ----------------------------------------------------------------------------


@contextmanager
def pegout_node(directory: Path, log_level: str = "INFO") -> Iterator[tuple[Any, Any]]:
    """The real-signing mock and a node wired to it (as tests/support/pegouts.py does):
    yields (node, mock)."""
    federation = (f"--federation-seed={FEDERATION_SEED}", f"--federation-size={FEDERATION_SIZE}",
                  f"--federation-threshold={THRESHOLD}")
    mock = start_mock_governance(directory / "mock", extra_args=federation)
    governance = {
        "endpoints": [{"url": mock.target, "priority": 10}],
        # The node's own mock stays off-port (1, 2): only its federation settings count,
        # and they must be the ones the mock started above signs with.
        "mock": {"enabled": True, "port": 1, "control_port": 2,
                 "federation_seed": FEDERATION_SEED, "federation_size": FEDERATION_SIZE,
                 "federation_threshold": THRESHOLD},
    }
    try:
        logging = {"file": str(directory / "node" / "logs" / "node.log"), "level": log_level}
        with running_node(directory / "node", governance=governance, logging=logging) as node:
            yield node, mock
    finally:
        mock.stop()


def measure(directory: Path, plan: PegoutPlan) -> PegoutFigures:
    if "grpc" in sys.modules:
        # Every actor is forked from this process: gRPC must not be initialised here.
        raise RuntimeError("grpc is imported in the benchmark process")
    figures = PegoutFigures(plan)
    requests = Requests()
    with pegout_node(directory) as (node, _mock):
        wait_state(node, "connected")
        config = node.config
        figures.settings = {
            "federation": f"{THRESHOLD}-of-{FEDERATION_SIZE}",
            "inputs_per_pegout": INPUTS,
            "signatures_per_pegout": THRESHOLD * INPUTS,
            **DURABILITY,
            "broadcaster": config.bridge.broadcaster.kind,
            "log_level": config.logging.level,
            "health_ping_timeout_s": config.supervision.health.ping_timeout_s,
            "clock_stops": "txid fsynced in the spool",
        }
        watcher = SpoolWatcher(Path(node.config.bridge.broadcaster.spool_path))
        watcher.start()
        try:
            client = Client(node)
            warm_up(client, watcher, requests)
            run_phases(figures, client, watcher, requests)
        finally:
            watcher.stop()
        figures.put("spool_duplicates", watcher.duplicates)
        figures.put("resent_after_restart", client.resent)
    return figures


def run_phases(figures: PegoutFigures, client: Client, watcher: SpoolWatcher,
               requests: Requests) -> None:
    plan = figures.plan
    for run in range(plan.runs):
        singles = requests.make(f"single{run}", plan.singles)
        with phase(figures, client, "single") as restarted:
            outcome = one_at_a_time(client, watcher, singles)
        put_latencies(figures, ("single_p50_ms", "single_p99_ms", "single_max_ms"), outcome,
                      restarted)
        burst_phase(figures, client, watcher, requests.make(f"burst{run}", plan.burst), "")
        for rate in plan.rates:
            key = rate_key(rate)
            paced = requests.make(f"rate{key}-{run}", max(1, round(rate * plan.rate_seconds)))
            with phase(figures, client, f"rate {key}/s") as restarted:
                outcome, sent = offered(client, watcher, paced, rate)
            put_latencies(figures, (f"p50_ms_at_{key}", f"p99_ms_at_{key}",
                                    f"max_ms_at_{key}"), outcome, restarted)
            figures.put(f"sent_per_s_at_{key}", _rounded(sent, 1), "a single peg-out")
    growth_phases(figures, client, watcher)


def burst_phase(figures: PegoutFigures, client: Client, watcher: SpoolWatcher,
                burst: list[Request], suffix: str) -> None:
    """`len(burst)` peg-outs in flight at once: latency and the rate they complete at."""
    with phase(figures, client, f"burst{suffix}") as restarted:
        outcome, sent = at_once(client, watcher, burst)
    put_latencies(figures, (f"burst{suffix}_p50_ms", f"burst{suffix}_p99_ms",
                            f"burst{suffix}_max_ms"), outcome, restarted)
    figures.put(f"burst{suffix}_sent_per_s", _rounded(sent, 1), "a single Batch")
    completed = (len(burst) / (outcome.last_seen - outcome.first_send)
                 if outcome.last_seen > outcome.first_send else None)
    key = f"completed_per_s{suffix}"
    if outcome.problem is not None:
        figures.put(key, None, outcome.problem)
    elif restarted:
        figures.put(key, None, restart_reason(restarted, [])
                    + (f"; with it, {completed:.1f}/s" if completed else ""))
    else:
        figures.put(key, _rounded(completed, 1), "no time between send and spool")


def growth_phases(figures: PegoutFigures, client: Client, watcher: SpoolWatcher) -> None:
    """The cost curve: transaction size at a fixed rate, and how many are in flight at once."""
    plan = figures.plan
    for padding in plan.paddings:
        sized = Requests(padding_bytes=padding)
        sized.next_seed = 10_000_000 + padding  # seeds no other phase uses
        paced = sized.make(f"pad{padding}", max(1, round(plan.growth_rate * plan.rate_seconds)))
        size = len(paced[0].message.tx_hex) // 2
        figures.put(f"tx_bytes_pad{padding}", size)
        with phase(figures, client, f"padding {padding}") as restarted:
            outcome, _ = offered(client, watcher, paced, plan.growth_rate)
        put_latencies(figures, (f"p50_ms_pad{padding}", f"p99_ms_pad{padding}",
                                f"max_ms_pad{padding}"), outcome, restarted)
    requests = Requests()
    requests.next_seed = 20_000_000
    for count in plan.bursts:
        burst_phase(figures, client, watcher, requests.make(f"inflight{count}", count),
                    f"_{count}")


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


# -- output -----------------------------------------------------------------------------


def _ms(value: float | int | None) -> str:
    return f"{value:>8.1f}" if value is not None else f"{'n/a':>8}"


def _rate(value: float | int | None) -> str:
    return f"{value:,.1f}" if value is not None else "n/a"


def print_table(figures: PegoutFigures) -> None:
    plan, values, settings = figures.plan, figures.values, figures.settings
    print(f"peg-outs end to end: InitiatePegout -> txid fsynced in the spool "
          f"({settings['federation']} federation, {settings['inputs_per_pegout']} inputs: "
          f"{settings['signatures_per_pegout']} signatures made by the mock and verified "
          f"by the bridge; SQLite {settings['sqlite']}; {settings['broadcaster']} "
          f"{settings['spool']}; log level {settings['log_level']}; median of {plan.runs} "
          f"run(s), spread of the p99 in brackets)")
    print(f"{'load':<38} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  p99 spread")
    rows = [(f"one at a time ({plan.singles})", "single"),
            (f"{plan.burst:,} at once (Batches of {BURST_BATCH})", "burst")]
    for rate in plan.rates:
        key = rate_key(rate)
        sent = values.get(f"sent_per_s_at_{key}")
        rows.append((f"{key}/s for {plan.rate_seconds:g} s (sent {_rate(sent)}/s)", f"@{key}"))
    for padding in plan.paddings:
        size = values.get(f"tx_bytes_pad{padding}")
        rows.append((f"{plan.growth_rate:g}/s, {size} B transactions", f"pad{padding}"))
    for count in plan.bursts:
        rows.append((f"{count:,} in flight at once", f"burst_{count}"))
    for label, tag in rows:
        keys = _latency_keys(tag)
        spread = figures.spread(keys[1])
        text = f"[{spread[0]:.0f}, {spread[1]:.0f}]" if spread else ""
        print(f"{label:<38} " + " ".join(_ms(values.get(key)) for key in keys) + f"  {text}")
    print(f"  {plan.burst:,} at once: {_rate(values.get('completed_per_s'))} peg-outs/s "
          f"completed; " + "; ".join(
              f"{count:,} in flight: {_rate(values.get(f'completed_per_s_{count}'))}/s"
              for count in plan.bursts))
    print(f"  highest offered rate with p99 under 200 ms: "
          f"{_rate(max_rate_under(figures, 200.0))} peg-outs/s; txids spooled more than once: "
          f"{values.get('spool_duplicates')}; sent again after a restart: "
          f"{values.get('resent_after_restart')}")
    for name, actors in figures.restarts.items():
        print(f"  restarted during '{name}': {', '.join(actors)}")
    for key, reason in figures.null_reasons.items():
        print(f"  {key}: not measured: {reason}")


def _latency_keys(tag: str) -> tuple[str, str, str]:
    if tag.startswith("@"):
        key = tag[1:]
        return (f"p50_ms_at_{key}", f"p99_ms_at_{key}", f"max_ms_at_{key}")
    if tag.startswith("pad"):
        return (f"p50_ms_{tag}", f"p99_ms_{tag}", f"max_ms_{tag}")
    return (f"{tag}_p50_ms", f"{tag}_p99_ms", f"{tag}_max_ms")


def max_rate_under(figures: PegoutFigures, p99_ms: float) -> float | None:
    """The highest offered rate whose p99 stayed under `p99_ms` (None if none did)."""
    passing = [rate for rate in figures.plan.rates
               if (p99 := figures.values.get(f"p99_ms_at_{rate_key(rate)}")) is not None
               and p99 < p99_ms]
    return max(passing) if passing else None
