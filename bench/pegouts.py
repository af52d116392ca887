"""Peg-outs end to end on real processes: `InitiatePegout` until the signed transaction is spooled.

A real mock governance process signs with a 3-of-5 test federation (two
inputs per peg-out: six ECDSA signatures made by the mock and verified by
the bridge); the node runs with its default durability (SQLite in WAL mode
with `synchronous=FULL`, the spool fsynced on every append) and its default
log level. Every peg-out has its own seed, so its own txid.

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

Figures:

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
`null_reasons`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.messages import Batch, InitiatePegout, PegoutAccepted, PegoutRejected
from bench.recovery import percentile
from btc.federation import witness_script
from btc.pegout import parse_pegout
from btc.testing import make_unsigned_pegout
from protocol.mock.federation import federation_keys
from tests.support.mock import start_mock_governance
from tests.support.nodes import running_node
from tests.support.stream import wait_state

FEDERATION_SEED = "bench-pegouts"
FEDERATION_SIZE = 5
THRESHOLD = 3
INPUTS = 2
WARMUP = 5
POLL_S = 0.001
# A phase is given up when the spool has not grown for this long (a peg-out
# that never comes), rather than after a fixed time that a slow machine might
# need in full.
STALL_S = 30.0
DRAIN_EVERY = 25  # sends between two looks at the replies during a burst
LISTEN_S = 0.002
# Thespian treats a zero timeout as "do not even look": a look needs a sliver.
MIN_LISTEN_S = 0.0005
SETTINGS = {
    "federation": f"{THRESHOLD}-of-{FEDERATION_SIZE}",
    "inputs_per_pegout": INPUTS,
    "signatures_per_pegout": THRESHOLD * INPUTS,
    "sqlite": "WAL, synchronous=FULL",
    "spool": "fsync per append",
    "log_level": "INFO",
    "clock_stops": "txid fsynced in the spool",
}


@dataclass(frozen=True)
class PegoutPlan:
    singles: int = 50
    burst: int = 1000
    rates: tuple[float, ...] = (10.0, 100.0, 300.0)
    rate_seconds: float = 5.0


@dataclass
class PegoutFigures:
    plan: PegoutPlan
    values: dict[str, float | int | None] = field(default_factory=dict)
    null_reasons: dict[str, str] = field(default_factory=dict)

    def put(self, key: str, value: float | int | None, reason: str | None = None) -> None:
        self.values[key] = value
        if value is None:
            self.null_reasons[key] = reason or "not measured"

    def as_json(self) -> dict[str, Any]:
        return {**self.values, "settings": dict(SETTINGS), "null_reasons": dict(self.null_reasons)}


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

    def __init__(self) -> None:
        self.script = witness_script(federation_keys(FEDERATION_SEED, FEDERATION_SIZE), THRESHOLD)
        self.next_seed = 1

    def make(self, label: str, count: int) -> list[Request]:
        made = []
        for _ in range(count):
            seed, self.next_seed = self.next_seed, self.next_seed + 1
            tx_hex, indices, amounts = make_unsigned_pegout(self.script, n_inputs=INPUTS,
                                                            seed=seed)
            # A segwit signature leaves the txid as it is: the unsigned one is the spooled one.
            txid = parse_pegout(tx_hex, indices, amounts, max_pegout_sat=sum(amounts)).txid
            made.append(Request(InitiatePegout(f"bench-{label}-{seed}", tx_hex, indices,
                                               amounts), txid))
        return made


class Client:
    """Tells the bridge; takes in its replies so they never pile up in the bridge's process."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.bridge = node.lookup("bridge")
        if self.bridge is None:
            raise RuntimeError("the node has no bridge actor")
        self.accepted = 0
        self.rejected: dict[str, str] = {}

    def send(self, request: Request) -> None:
        self.node.asys.tell(self.bridge, request.message)

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
                self.accepted += 1
            elif isinstance(item, PegoutRejected):
                self.rejected[item.request_id] = item.reason


@dataclass
class Outcome:
    """One phase: latencies in ms of the peg-outs that reached the spool, or why not all did."""

    latencies_ms: list[float]
    problem: str | None
    first_send: float
    last_seen: float


def wait_spooled(client: Client, watcher: SpoolWatcher, requests: Sequence[Request],
                 started: dict[str, float]) -> Outcome:
    """Until every request is in the spool (or was refused, or the spool stopped growing)."""
    by_id = {r.message.request_id: r.txid for r in requests}
    missing = {r.txid for r in requests}
    progress_at = time.perf_counter()
    while missing:
        client.drain(LISTEN_S)
        for rid in client.rejected.keys() & by_id.keys():
            missing.discard(by_id[rid])
        still = {txid for txid in missing if txid not in watcher.seen}
        if len(still) < len(missing):
            progress_at = time.perf_counter()
        missing = still
        if missing and time.perf_counter() - progress_at > STALL_S:
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
                   min(started.values()), max((watcher.seen[t] for t in seen), default=0.0))


def put_latencies(figures: PegoutFigures, keys: tuple[str, str, str], outcome: Outcome) -> None:
    if outcome.problem is not None or not outcome.latencies_ms:
        reason = outcome.problem or "no peg-out was sent"
        for key in keys:
            figures.put(key, None, reason)
        return
    values = outcome.latencies_ms
    for key, fraction in zip(keys, (0.5, 0.99, 1.0), strict=True):
        figures.put(key, round(percentile(values, fraction), 1))


# -- the phases -------------------------------------------------------------------------


def one_at_a_time(client: Client, watcher: SpoolWatcher, requests: Sequence[Request]) -> Outcome:
    started: dict[str, float] = {}
    latencies: list[float] = []
    for request in requests:
        started[request.txid] = time.perf_counter()
        client.send(request)
        outcome = wait_spooled(client, watcher, [request], started)
        if outcome.problem is not None:
            return Outcome(latencies, outcome.problem, 0.0, 0.0)
        latencies.extend(outcome.latencies_ms)
    return Outcome(latencies, None, 0.0, 0.0)


def at_once(client: Client, watcher: SpoolWatcher,
            requests: Sequence[Request]) -> tuple[Outcome, float]:
    """Every request sent back to back; the outcome and the send rate achieved."""
    started: dict[str, float] = {}
    for index, request in enumerate(requests, 1):
        started[request.txid] = time.perf_counter()
        client.send(request)
        if index % DRAIN_EVERY == 0:
            client.drain(MIN_LISTEN_S)
    sent_for = time.perf_counter() - min(started.values())
    return wait_spooled(client, watcher, requests, started), len(requests) / sent_for


def offered(client: Client, watcher: SpoolWatcher, requests: Sequence[Request],
            rate: float) -> tuple[Outcome, float]:
    """Open loop at `rate`; the outcome (latency from each due time) and the send rate achieved."""
    due_at: dict[str, float] = {}
    begin = time.perf_counter() + 0.01
    for index, request in enumerate(requests):
        due = begin + index / rate
        while (left := due - time.perf_counter()) > 0:
            client.drain(min(left, LISTEN_S))
        if index % DRAIN_EVERY == 0:  # behind schedule nothing above takes the replies
            client.drain(MIN_LISTEN_S)
        due_at[request.txid] = due
        client.send(request)
    sent_for = time.perf_counter() - begin
    return wait_spooled(client, watcher, requests, due_at), len(requests) / max(sent_for, 1e-9)


def warm_up(client: Client, watcher: SpoolWatcher, requests: Requests) -> None:
    """A few peg-outs through the whole path first: connections, caches, the federation."""
    deadline = time.monotonic() + 60
    while True:
        batch = requests.make("warmup", WARMUP)
        client.rejected.clear()
        outcome = wait_spooled(client, watcher, batch,
                               {r.txid: _sent(client, r) for r in batch})
        if outcome.problem is None:
            return
        # Right after the start the bridge may not know the federation yet: try again.
        if time.monotonic() > deadline:
            raise RuntimeError(f"peg-outs do not go through: {outcome.problem}")
        time.sleep(0.2)


def _sent(client: Client, request: Request) -> float:
    now = time.perf_counter()
    client.send(request)
    return now


# -- the run ----------------------------------------------------------------------------


@contextmanager
def pegout_node(directory: Path) -> Iterator[Any]:
    """The real-signing mock and a node wired to it (as tests/support/pegouts.py does)."""
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
        with running_node(directory / "node", governance=governance) as node:
            yield node
    finally:
        mock.stop()


def measure(directory: Path, plan: PegoutPlan) -> PegoutFigures:
    if "grpc" in sys.modules:
        # Every actor is forked from this process: gRPC must not be initialised here.
        raise RuntimeError("grpc is imported in the benchmark process")
    figures = PegoutFigures(plan)
    requests = Requests()
    with pegout_node(directory) as node:
        wait_state(node, "connected")
        watcher = SpoolWatcher(Path(node.config.bridge.broadcaster.spool_path))
        watcher.start()
        try:
            client = Client(node)
            warm_up(client, watcher, requests)

            singles = one_at_a_time(client, watcher, requests.make("single", plan.singles))
            put_latencies(figures, ("single_p50_ms", "single_p99_ms", "single_max_ms"), singles)

            burst, send_rate = at_once(client, watcher, requests.make("burst", plan.burst))
            put_latencies(figures, ("burst_p50_ms", "burst_p99_ms", "burst_max_ms"), burst)
            figures.put("burst_sent_per_s", round(send_rate))
            if burst.problem is None:
                figures.put("completed_per_s",
                            round(plan.burst / (burst.last_seen - burst.first_send), 1))
            else:
                figures.put("completed_per_s", None, burst.problem)

            for rate in plan.rates:
                key = rate_key(rate)
                count = max(1, round(rate * plan.rate_seconds))
                outcome, sent_rate = offered(client, watcher,
                                             requests.make(f"rate{key}", count), rate)
                put_latencies(figures, (f"p50_ms_at_{key}", f"p99_ms_at_{key}",
                                        f"max_ms_at_{key}"), outcome)
                figures.put(f"sent_per_s_at_{key}", round(sent_rate, 1))
        finally:
            watcher.stop()
        figures.put("spool_duplicates", watcher.duplicates)
    return figures


# -- output -----------------------------------------------------------------------------


def _ms(value: float | int | None) -> str:
    return f"{value:>8.1f}" if value is not None else f"{'n/a':>8}"


def print_table(figures: PegoutFigures) -> None:
    plan, values = figures.plan, figures.values
    print(f"peg-outs end to end: InitiatePegout (tell) -> txid fsynced in the spool "
          f"({SETTINGS['federation']} federation, {INPUTS} inputs: "
          f"{SETTINGS['signatures_per_pegout']} signatures made by the mock and verified "
          f"by the bridge; SQLite {SETTINGS['sqlite']}; spool {SETTINGS['spool']}; "
          f"log level {SETTINGS['log_level']})")
    print(f"{'load':<34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = [(f"one at a time ({plan.singles})", "single_p50_ms", "single_p99_ms",
             "single_max_ms"),
            (f"{plan.burst:,} at once (single tells)", "burst_p50_ms", "burst_p99_ms",
             "burst_max_ms")]
    for rate in plan.rates:
        key = rate_key(rate)
        sent = values.get(f"sent_per_s_at_{key}")
        label = f"{key}/s for {plan.rate_seconds:g} s (sent {sent:g}/s)"
        rows.append((label, f"p50_ms_at_{key}", f"p99_ms_at_{key}", f"max_ms_at_{key}"))
    for label, *keys in rows:
        print(f"{label:<34} " + " ".join(_ms(values.get(key)) for key in keys))
    completed = values.get("completed_per_s")
    shown = f"{completed:,.1f}" if completed is not None else "n/a"
    print(f"  {plan.burst:,} at once: {shown} peg-outs/s completed "
          f"(sent at {values.get('burst_sent_per_s'):,}/s); "
          f"txids spooled more than once: {values.get('spool_duplicates')}")
    for key, reason in figures.null_reasons.items():
        print(f"  {key}: not measured: {reason}")
