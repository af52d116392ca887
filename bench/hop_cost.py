"""What one Thespian hop costs in CPU when messages go one at a time, as at a low rate.

`python -m bench.hop_cost [--hops N] [--cpus LIST]` starts a Thespian system set up like
the node's (`bench.ceilings.actor_system`: multiprocTCPBase, frames tagged) with two
actors, each its own process, that send a message back and forth `--hops` times: each
is sent only when the previous one arrived, so every hop is a send of its own, with
Thespian's acknowledgement. It prints the CPU both processes used per hop, and what the
calls of a client outside the system cost it (the benchmarks' client is one): a `tell`,
and a `listen` that waits with nothing to receive.

Why it matters (BENCHMARKS.md, issue 17): at a low rate a peg-out is a handful of such
hops, each a send of its own; on the bridge, three quarters of the samples of a profile
at 50/s are in Thespian's transport and the frames' tag and pickle. The
throughput ceilings (`bench.ceilings`) measure the same transport with many sends in
flight, which shares the cost of a wakeup between them.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from thespian.actors import Actor, ActorAddress

from bench.cpu import cpu_seconds

ASK_S = 120.0
IDLE_LISTENS_S = (0.002, 0.01, 0.05)
IDLE_LISTENING_S = 1.0  # listened in all, for each of those timeouts


@dataclass(frozen=True)
class _Volley:
    left: int
    back_to: ActorAddress  # who hears the end


@dataclass(frozen=True)
class _Serve:
    hops: int
    partner: ActorAddress


class _Player(Actor):
    """Returns each volley until none are left; answers its pid to "pid"."""

    def receiveMessage(self, message: Any, sender: ActorAddress) -> None:
        if message == "pid":
            self.send(sender, os.getpid())
        elif isinstance(message, _Serve):
            self.send(message.partner, _Volley(message.hops - 1, sender))
        elif isinstance(message, _Volley):
            if message.left <= 0:
                self.send(message.back_to, "done")
            else:
                self.send(sender, _Volley(message.left - 1, message.back_to))


@dataclass(frozen=True)
class HopCost:
    hops: int
    wall_us_per_hop: float
    cpu_us_per_hop: float  # both processes together
    tell_cpu_us: float  # a client's tell, to an actor that does not answer
    idle_listen_cpu_us: dict[float, float]  # a client's listen that receives nothing
    session: int  # the actor system's session: empty once `measure` returns


def measure(hops: int) -> HopCost:
    from bench.ceilings import actor_system

    if hops < 2:
        raise ValueError(f"need at least 2 hops, got {hops}")
    with actor_system() as system:
        asys = system.asys
        first, second = asys.createActor(_Player), asys.createActor(_Player)
        pids = [asys.ask(player, "pid", ASK_S) for player in (first, second)]
        if not all(isinstance(pid, int) for pid in pids):
            raise RuntimeError(f"the players did not say their pids: {pids}")
        if asys.ask(first, _Serve(min(hops, 200), second), ASK_S) != "done":  # warm up
            raise RuntimeError("the warm-up volley never ended")
        before = _cpu_of(pids)
        started = time.perf_counter()
        if asys.ask(first, _Serve(hops, second), ASK_S) != "done":
            raise RuntimeError("the volley never ended")
        wall = time.perf_counter() - started
        cpu = _cpu_of(pids) - before

        # This process's own CPU: process_time resolves nanoseconds, where /proc's
        # ticks (10 ms) would swallow a few listens.
        tells = max(100, min(hops, 1000))
        spent = time.process_time()
        for _ in range(tells):
            asys.tell(second, "pid?")  # not a message it answers
        tell_us = 1e6 * (time.process_time() - spent) / tells
        idle: dict[float, float] = {}
        for wait_s in IDLE_LISTENS_S:
            listens = round(IDLE_LISTENING_S / wait_s)
            spent = time.process_time()
            for _ in range(listens):
                asys.listen(wait_s)
            idle[wait_s] = 1e6 * (time.process_time() - spent) / listens
    return HopCost(hops, 1e6 * wall / hops, 1e6 * cpu / hops, tell_us, idle, system.session)


def _cpu_of(pids: Sequence[int]) -> float:
    seconds = [cpu_seconds(pid) for pid in pids]
    if any(value is None for value in seconds):
        raise RuntimeError("a player is gone")
    return sum(value for value in seconds if value is not None)


def report(cost: HopCost) -> list[str]:
    idle = ", ".join(f"{1000 * wait_s:g} ms: {us:.0f} µs" for wait_s, us in
                     cost.idle_listen_cpu_us.items())
    return [
        f"one message at a time, {cost.hops:,} hops: {cost.wall_us_per_hop:.0f} µs a hop, "
        f"{cost.cpu_us_per_hop:.0f} µs of CPU a hop (sender and receiver together)",
        f"a client outside the system: tell {cost.tell_cpu_us:.0f} µs of CPU; "
        f"a listen that receives nothing, by its timeout: {idle}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    from bench.__main__ import cpu_list

    parser = argparse.ArgumentParser(prog="python -m bench.hop_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hops", type=int, default=4000)
    parser.add_argument("--cpus", type=cpu_list, metavar="LIST",
                        help="run everything on these CPUs only (e.g. 0): a slower machine")
    args = parser.parse_args(argv)
    if args.hops < 2:
        parser.error("--hops must be at least 2")
    if args.cpus:
        os.sched_setaffinity(0, args.cpus)
    for line in report(measure(args.hops)):
        print(line)
    where = (f"pinned to CPU {','.join(map(str, sorted(args.cpus)))}" if args.cpus
             else f"{os.cpu_count()} cores")
    print(f"({where})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
