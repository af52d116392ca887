"""The peg-out benchmarks' phases: one at a time, many at once, offered rates, growth.

Each phase starts once the node has worked off the previous one (`settle`),
and notes the actors restarted meanwhile: a phase with a restart has its
figures replaced by the reason (its peg-outs still go through).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.cpu import CpuUse, metered
from bench.pegouts.bridge import (
    WORKERS,
    Client,
    Outcome,
    actor_pids,
    meter_of,
    settle,
    wait_spooled,
)
from bench.pegouts.figures import PegoutFigures, figure_key, latency_keys, rate_key
from bench.pegouts.load import BURST_BATCH, FEDERATIONS, Request, Requests, SpoolWatcher
from bench.recovery import percentile


@dataclass(frozen=True)
class Metering:
    """Where a phase's CPU is read: every actor's process (as the phase finds them), the
    mock's and this benchmark's own, on the `cpus` CPUs they share."""

    mock_pid: int
    cpus: int


@dataclass
class PhaseRun:
    """What `phase` learns around a phase's load: the actors restarted meanwhile and, when
    metered, the CPU the load cost or why it could not be read."""

    restarted: list[str] = field(default_factory=list)
    cpu: CpuUse | None = None
    cpu_problem: str | None = None


@contextmanager
def phase(figures: PegoutFigures, client: Client, name: str,
          metering: Metering | None = None) -> Iterator[PhaseRun]:
    """Settle first, then yield; afterwards the yielded `PhaseRun` has the actors restarted
    meanwhile and, with `metering`, what the load cost in CPU. The settling is not metered;
    what a phase's last peg-outs leave to do after their spool lines (a commit that can
    wait, a `Handled` to governance) falls into the next phase's settling."""
    settle(client)
    before = actor_pids(client.node)
    ran = PhaseRun()
    if metering is None:
        yield ran
    else:
        missing = [worker for worker in WORKERS if not before.get(worker)]
        with metered(meter_of(before, metering.mock_pid), metering.cpus) as measured:
            yield ran
        if missing:  # their CPU would be missing from the sum, which would look cheap
            ran.cpu_problem = f"the node gave no pid for {', '.join(missing)}"
        else:
            ran.cpu = measured[0]
    after = actor_pids(client.node)
    ran.restarted.extend(sorted(n for n, pid in before.items() if after.get(n) != pid))
    if ran.restarted:
        figures.restarts[name] = ran.restarted


def problem_of(outcome: Outcome, restarted: list[str]) -> str | None:
    """Why a phase's figures do not describe the load, or None if they do."""
    if outcome.problem is not None:
        return outcome.problem
    if restarted:
        return restart_reason(restarted, outcome.latencies_ms)
    return None if outcome.latencies_ms else "no peg-out was sent"


def put_latencies(figures: PegoutFigures, keys: tuple[str, str, str], outcome: Outcome,
                  restarted: list[str]) -> None:
    problem = problem_of(outcome, restarted)
    if problem is not None:
        for key in keys:
            figures.put(key, None, problem)
        return
    for key, fraction in zip(keys, (0.5, 0.99, 1.0), strict=True):
        figures.put(key, round(percentile(outcome.latencies_ms, fraction), 1))


def put_cpu(figures: PegoutFigures, tag: str, ran: PhaseRun, count: int,
            outcome: Outcome) -> None:
    """The row `tag`'s CPU per peg-out (`count` of them) and how busy the CPUs were; None
    with the reason wherever its latencies are None (a restart, a refusal, a stall), or
    where the CPU could not be read. Nothing for a phase that was not metered."""
    if ran.cpu is None and ran.cpu_problem is None:
        return
    problem = problem_of(outcome, ran.restarted) or ran.cpu_problem
    values: tuple[float | None, float | None] = (None, None)
    if problem is None and ran.cpu is not None:
        values = (ran.cpu.ms_per_pegout(count), ran.cpu.busy_pct())
    for name, value in zip(("cpu_ms", "busy_pct"), values, strict=True):
        figures.put(figure_key(tag, name), _rounded(value, 2),
                    problem or "no process could be read", digits=2)


def restart_reason(restarted: list[str], latencies_ms: list[float]) -> str:
    worst = f"; with it, p99 {percentile(latencies_ms, 0.99):.0f} ms" if latencies_ms else ""
    return (f"restarted during this phase: {', '.join(restarted)} (see the node's log for "
            f"why){worst}")


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
            # Listen until it is due: a Thespian listen costs CPU per call, which the
            # node shares (measured: 180 µs per idle 2 ms listen, 400 µs per 10 ms).
            client.drain(left)
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


def run_phases(figures: PegoutFigures, client: Client, watcher: SpoolWatcher,
               requests: Requests, metering: Metering | None = None) -> None:
    plan = figures.plan
    for run in range(plan.runs):
        singles = requests.make(f"single{run}", plan.singles)
        with phase(figures, client, "single", metering) as ran:
            outcome = one_at_a_time(client, watcher, singles)
        put_latencies(figures, latency_keys("single"), outcome, ran.restarted)
        put_cpu(figures, "single", ran, len(singles), outcome)
        burst_phase(figures, client, watcher, requests.make(f"burst{run}", plan.burst), "",
                    metering)
        for rate in plan.rates:
            key = rate_key(rate)
            paced = requests.make(f"rate{key}-{run}", max(1, round(rate * plan.rate_seconds)))
            with phase(figures, client, f"rate {key}/s", metering) as ran:
                outcome, sent = offered(client, watcher, paced, rate)
            put_latencies(figures, latency_keys(f"@{key}"), outcome, ran.restarted)
            put_cpu(figures, f"@{key}", ran, len(paced), outcome)
            figures.put(f"sent_per_s_at_{key}", _rounded(sent, 1), "a single peg-out")
    growth_phases(figures, client, watcher, metering)


def burst_phase(figures: PegoutFigures, client: Client, watcher: SpoolWatcher,
                burst: list[Request], suffix: str, metering: Metering | None = None) -> None:
    """`len(burst)` peg-outs in flight at once: latency and the rate they complete at."""
    tag = f"burst{suffix}"
    with phase(figures, client, tag, metering) as ran:
        outcome, sent = at_once(client, watcher, burst)
    put_latencies(figures, latency_keys(tag), outcome, ran.restarted)
    put_cpu(figures, tag, ran, len(burst), outcome)
    figures.put(f"burst{suffix}_sent_per_s", _rounded(sent, 1), "a single Batch")
    completed = (len(burst) / (outcome.last_seen - outcome.first_send)
                 if outcome.last_seen > outcome.first_send else None)
    key = f"completed_per_s{suffix}"
    if outcome.problem is not None:
        figures.put(key, None, outcome.problem)
    elif ran.restarted:
        figures.put(key, None, restart_reason(ran.restarted, [])
                    + (f"; with it, {completed:.1f}/s" if completed else ""))
    else:
        figures.put(key, _rounded(completed, 1), "no time between send and spool")


def growth_phases(figures: PegoutFigures, client: Client, watcher: SpoolWatcher,
                  metering: Metering | None = None) -> None:
    """The cost curve: transaction size at a fixed rate, and how many are in flight at once."""
    plan = figures.plan
    for padding in plan.paddings:
        sized = Requests(padding_bytes=padding, federation=FEDERATIONS[plan.script_type])
        sized.next_seed = 10_000_000 + padding  # seeds no other phase uses
        paced = sized.make(f"pad{padding}", max(1, round(plan.growth_rate * plan.rate_seconds)))
        size = len(paced[0].message.tx_hex) // 2
        figures.put(f"tx_bytes_pad{padding}", size)
        with phase(figures, client, f"padding {padding}", metering) as ran:
            outcome, _ = offered(client, watcher, paced, plan.growth_rate)
        put_latencies(figures, latency_keys(f"pad{padding}"), outcome, ran.restarted)
        put_cpu(figures, f"pad{padding}", ran, len(paced), outcome)
    requests = Requests(federation=FEDERATIONS[plan.script_type])
    requests.next_seed = 20_000_000
    for count in plan.bursts:
        burst_phase(figures, client, watcher, requests.make(f"inflight{count}", count),
                    f"_{count}", metering)


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None
