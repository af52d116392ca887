"""Talking to the bridge during the peg-out benchmarks: requests out, replies in, and
waiting for the spool.

The benchmark hands peg-outs over with `tell` and collects the bridge's
replies as they come (the client library's rule for many requests in flight);
a bridge that dies meanwhile is looked up again, and what it never accepted
is sent to its successor, as a client would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thespian.actors import ActorAddress

from actors.messages import Batch, ListPegouts, PegoutAccepted, PegoutList, PegoutRejected
from bench.cpu import CpuMeter
from bench.pegouts.load import Request, Requests, SpoolWatcher
from client import NodeClient, NodeUnreachable, NoReply

WARMUP = 5
# A phase is given up when the spool has not grown for this long (a peg-out
# that never comes), rather than after a fixed time that a slow machine might
# need in full.
STALL_S = 30.0
# Without progress for this long, check whether the bridge was replaced: what
# was told to the dead one and never accepted is lost and must be sent again.
RESCUE_AFTER_S = 2.0
# The longest `wait_spooled` waits for the spool before it looks for replies.
SPOOL_WAIT_S = 0.02
# Thespian treats a zero timeout as "do not even look": a look needs a sliver.
MIN_LISTEN_S = 0.0005
# Between phases: the node counts as idle once every worker answers a Ping this
# fast several times in a row (a Pong waits behind the actor's queued sends).
IDLE_PING_S = 0.02
IDLE_PINGS = 3
SETTLE_TIMEOUT_S = 120.0
WORKERS = ("bridge", "stream", "storage", "chain")


class Client:
    """Tells the bridge and takes in its replies at once: a reply this process leaves unread
    stays queued in the bridge's process, whose Thespian transport slows with its queue."""

    def __init__(self, node: NodeClient) -> None:
        self.node = node
        self.bridge = self._find_bridge()
        self.accepted: set[str] = set()
        self.rejected: dict[str, str] = {}
        self.resent = 0
        # Which bridge each request was last told to: a tell the bridge has read but not yet
        # handled dies with it, so after a restart whatever is not accepted goes out again.
        self.generation = 0
        self.told_to: dict[str, int] = {}

    def _find_bridge(self) -> ActorAddress:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            address = self.node.find("bridge", timeout_s=1.0)
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

    def _tell(self, requests: Sequence[Request], message: object) -> None:
        try:
            self._note_told(requests)
            self.node.tell(self.bridge, message)
        except NodeUnreachable:
            # The bridge died under us; its supervisor starts another: tell that one.
            self.replaced()
            self._note_told(requests)
            self.node.tell(self.bridge, message)
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

    def _note(self, reply: object) -> None:
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
            reply = self.node.ask(self.bridge, ListPegouts(state), PegoutList, timeout_s=30.0)
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
        # Wait for the spool rather than listen for replies: an idle Thespian listen costs
        # the benchmark CPU (180 µs per 2 ms, measured) that the node shares with it. A
        # refusal is picked up by the short look that follows each wait.
        watcher.changed.wait(SPOOL_WAIT_S)
        watcher.changed.clear()
        client.drain(MIN_LISTEN_S)
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


def actor_pids(node: NodeClient) -> dict[str, int | None]:
    try:
        return node.pids()
    except NoReply:
        return {}


def cpu_meter(node: NodeClient, mock_pid: int) -> CpuMeter:
    """A meter of every actor's process, the mock's and this benchmark's own."""
    return meter_of(actor_pids(node), mock_pid)


def meter_of(actors: Mapping[str, int | None], mock_pid: int) -> CpuMeter:
    """A meter of these actors' processes (those with a pid), the mock's and this
    benchmark's own."""
    pids = {name: pid for name, pid in actors.items() if pid}
    return CpuMeter({**pids, "mock": mock_pid, "benchmark": os.getpid()})


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
        answered = all(node.ping(name) is not None for name in WORKERS)
        quick = quick + 1 if answered and time.perf_counter() - started < IDLE_PING_S else 0
        client.drain(0.05)


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
