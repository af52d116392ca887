"""The peg-out benchmarks' phases: one at a time, many at once, offered rates, growth.

Each phase starts once the node has worked off the previous one (`settle`),
and notes the actors restarted meanwhile: a phase with a restart has its
figures replaced by the reason (its peg-outs still go through).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bench.pegouts.bridge import Client, Outcome, actor_pids, settle, wait_spooled
from bench.pegouts.figures import PegoutFigures, rate_key
from bench.pegouts.load import BURST_BATCH, FEDERATIONS, Request, Requests, SpoolWatcher
from bench.recovery import percentile


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
        sized = Requests(padding_bytes=padding, federation=FEDERATIONS[plan.script_type])
        sized.next_seed = 10_000_000 + padding  # seeds no other phase uses
        paced = sized.make(f"pad{padding}", max(1, round(plan.growth_rate * plan.rate_seconds)))
        size = len(paced[0].message.tx_hex) // 2
        figures.put(f"tx_bytes_pad{padding}", size)
        with phase(figures, client, f"padding {padding}") as restarted:
            outcome, _ = offered(client, watcher, paced, plan.growth_rate)
        put_latencies(figures, (f"p50_ms_pad{padding}", f"p99_ms_pad{padding}",
                                f"max_ms_pad{padding}"), outcome, restarted)
    requests = Requests(federation=FEDERATIONS[plan.script_type])
    requests.next_seed = 20_000_000
    for count in plan.bursts:
        burst_phase(figures, client, watcher, requests.make(f"inflight{count}", count),
                    f"_{count}")


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None
