"""`scripts/chaos --hostile`: a buggy or malicious governance, and SIGKILLs, under load.

On a seeded schedule it mixes the mock's hostile frames (POST /hostile),
its misbehaviour switches (`signature_preamble`, `answer_twice`, for a few
seconds each), repeats of federation pushes the node already stored, and
SIGKILLs of any node process, while peg-outs flow through the client
library and federation updates through the mock (chaos.feed). Then it
switches every misbehaviour off and drains: every accepted peg-out must
become final (broadcast, where a spooled peg-out rests, or confirmed, failed, replaced) or
parked (needs_review, or signed under a halt) within the bridge's liveness
bound, `bridge.signature_deadline_s + bridge.attempt_timeout_s` from its
series' start, whatever governance sent. The verdict is read from the
database and the spool (chaos.verdict), never from the node's counters.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from actors.messages import NotifyPegin, PeginAccepted
from chaos import verdict
from chaos.faults import Fault, inject
from chaos.feed import FederationFeed
from chaos.load import PegoutLoad
from client import NodeClient, NodeUnreachable, NoReply
from mock_governance.control_client import ControlRequestFailed, MockControlClient
from nodeconfig import NodeConfig

KILL_TARGETS = ("stream", "bridge", "chain", "storage", "storage_supervisor",
                "system_supervisor", "root")
# Frames POST /hostile builds; the ones that take a version claim the feed's next one,
# so a node that wrongly took one would store it in place of the valid push.
FRAMES = ("ack_for_pegout", "pending_for_pegout", "answer_twice", "retry_after_max",
          "signature_for_pegin", "huge_version", "max_effective_height", "threshold_zero",
          "threshold_max", "garbage", "oversized")
VERSIONED = frozenset({"max_effective_height", "threshold_zero", "threshold_max"})
SWITCHES: dict[str, dict[str, Any]] = {
    "preamble_ack": {"signature_preamble": "ack"},
    "preamble_pending": {"signature_preamble": "pending"},
    "answers_twice": {"answer_twice": True},
}
SWITCHES_OFF: dict[str, Any] = {"signature_preamble": None, "answer_twice": False}
SWITCH_WINDOW_S = (1.0, 5.0)
KILL_SHARE = 0.25
# After the liveness bound, this much more for the bridge's timers to fire and the
# storage round trip that makes the outcome durable (and a restart or two).
DRAIN_SLACK_S = 20.0
FEED_SETTLE_S = 30.0
POLL_S = 0.5


@dataclass
class HostileRun:
    """What happened during the run, for the report."""

    actions: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # nothing to aim at yet
    faults: list[Fault] = field(default_factory=list)
    switch_off_at: float | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hostile mode (--hostile)")
    group.add_argument("--hostile", action="store_true",
                       help="hostile governance frames and SIGKILLs of any node process")
    group.add_argument("--minutes", type=float, default=None,
                       help="how long to inject (default: --duration-s)")
    group.add_argument("--oversized-push", action="store_true",
                       help="also push ProposalNotifications over the node's frame cap "
                       "(refused unparsed and acknowledged by id)")
    group.add_argument("--federation-every-s", type=float, default=2.0,
                       help="pause between one federation version stored and the next pushed")


def _gap(rng: random.Random, args: argparse.Namespace, tick: Callable[[], None]) -> None:
    until = time.monotonic() + rng.uniform(*args.gap_s)
    while time.monotonic() < until:
        tick()
        time.sleep(0.005)


def _frame(mock: MockControlClient, name: str, run: HostileRun, feed: FederationFeed,
           options: dict[str, Any]) -> str:
    if name in VERSIONED:
        options = {**options, "version": feed.next_version}
    try:
        sent = mock.hostile(name, **options)
    except ControlRequestFailed as error:
        if "HTTP 409" not in str(error):
            raise
        run.skipped[name] += 1
        return f"frame {name}: nothing to aim at yet"
    except OSError as error:  # the mock is restarting (it dies with a killed launcher)
        run.skipped[name] += 1
        return f"frame {name}: mock unreachable ({error})"
    return (f"frame {name}: {sent['frames']} frame(s), {sent['bytes']} bytes, to "
            f"{sent['delivered']} stream(s) {sent['request_ids'][:2]}")


def _act(args: argparse.Namespace, rng: random.Random, node: NodeClient,
         mock: MockControlClient, config: NodeConfig,
         run: HostileRun, feed: FederationFeed, tick: Callable[[], None]) -> str:
    if rng.random() < KILL_SHARE:
        target = rng.choice(KILL_TARGETS)
        run.actions[f"kill {target}"] += 1
        fault = inject(node, "kill", target, tick)
        if fault is None:
            return f"kill {target}: not running"
        run.faults.append(fault)
        took = f"{fault.recovery_s * 1000:.0f} ms" if fault.recovery_s else "NOT RECOVERED"
        return f"kill {target} pid {fault.old_pid} -> {fault.new_pid}: {took}"
    pushes = ["oversized_push"] if args.oversized_push else []
    choice = rng.choice([*FRAMES, *pushes, *SWITCHES, "repeat_push"])
    run.actions[choice] += 1
    if choice in SWITCHES:
        mock.behave(**{**SWITCHES_OFF, **SWITCHES[choice]})
        run.switch_off_at = time.monotonic() + rng.uniform(*SWITCH_WINDOW_S)
        return f"switch {choice} on"
    if choice == "repeat_push":
        return "repeat of a stored federation push: " + (
            "sent" if feed.repeat_stored() else "none stored yet")
    options: dict[str, Any] = {"node_id": config.node.id}
    if choice in ("oversized", "oversized_push"):
        options["size_bytes"] = config.governance.limits.max_frame_bytes + 1
    if choice == "garbage":
        options.update(seed=rng.randrange(2**32), size_bytes=rng.randint(1, 4096))
    return _frame(mock, choice, run, feed, options)


def _notify_pegin(node: NodeClient, run_id: str) -> bool:
    """One peg-in notice, so that a SignatureResponse can be aimed at a peg-in's id."""
    notice = NotifyPegin(f"chaos-{run_id}-pegin", "ab" * 32, 0, 100_000, "0x" + "11" * 20, 100)
    try:
        return isinstance(node.notify_pegin(notice, timeout_s=5.0), PeginAccepted)
    except NoReply:
        return False


def inject_hostile(args: argparse.Namespace, node: NodeClient, mock: MockControlClient,
                   config: NodeConfig, load: PegoutLoad, feed: FederationFeed,
                   run_id: str, duration_s: float, run: HostileRun) -> None:
    """The seeded schedule; what it did goes into `run` as it goes (the node may stop)."""
    rng = random.Random(args.seed)

    def tick() -> None:
        load.tick()
        feed.tick()
        if run.switch_off_at is not None and time.monotonic() >= run.switch_off_at:
            run.switch_off_at = None
            try:
                mock.behave(**SWITCHES_OFF)
            except (OSError, ControlRequestFailed):
                run.switch_off_at = time.monotonic() + 1.0  # the mock restarts: again later

    _notify_pegin(node, run_id)
    started = time.monotonic()
    while time.monotonic() - started < duration_s:
        _gap(rng, args, tick)
        print(_act(args, rng, node, mock, config, run, feed, tick), flush=True)


def drain(node: NodeClient, mock: MockControlClient, config: NodeConfig, load: PegoutLoad,
          feed: FederationFeed) -> float:
    """Misbehaviours off, then wait for the load and the feed, and for every accepted peg-out
    to be final or parked, within its liveness bound and some slack; returns the seconds."""
    started = time.monotonic()
    mock.behave(**SWITCHES_OFF)
    load.next_at = float("inf")
    until = time.monotonic() + FEED_SETTLE_S
    while (load.unanswered or not feed.settled()) and time.monotonic() < until:
        load.tick()
        feed.tick()
        load.listen(POLL_S)
    bridge = config.bridge
    bound_s = bridge.signature_deadline_s + bridge.attempt_timeout_s
    db_path = Path(config.storage.path)
    while True:
        rows = verdict.pegout_rows(db_path, load.prefix)
        stranded, _ = verdict.open_pegouts(rows, load.accepted, halt=verdict.halted(db_path))
        latest = max((rows[rid].series_start for rid in stranded if rid in rows),
                     default=time.time())
        if not stranded or time.time() > latest + bound_s + DRAIN_SLACK_S:
            return time.monotonic() - started
        load.listen(POLL_S)


# How long the record of acknowledgements may lag the last commit.
ACK_WAIT_S = 10.0


def report(args: argparse.Namespace, config: NodeConfig, load: PegoutLoad,
           feed: FederationFeed, run: HostileRun, *, memory_before: dict[str, int | None],
           memory_after: dict[str, int | None], duration_s: float, drain_s: float,
           node_stopped: str | None) -> dict[str, Any]:
    db_path = Path(config.storage.path)
    rows = verdict.pegout_rows(db_path, load.prefix)
    halt = verdict.halted(db_path)
    stranded, parked = verdict.open_pegouts(rows, sorted(load.accepted), halt=halt)
    spooled = load.spooled()
    txids = {rid: pegout.txid for rid, pegout in load.pegouts.items()}
    paid_twice = sorted(rid for rid, txid in txids.items()
                        if spooled[txid] > 1 and spooled[txid] > load.spool_before[txid])
    states = Counter(rows[rid].state for rid in load.accepted if rid in rows)
    lost = sorted(rid for rid in load.accepted
                  if rid in rows and rows[rid].state == "broadcast" and txids[rid] not in spooled)
    inconsistent = sorted(rid for rid in load.accepted
                          if rid in rows and rows[rid].state == "failed" and txids[rid] in spooled)
    bound_s = config.bridge.signature_deadline_s + config.bridge.attempt_timeout_s
    late = sorted(rid for rid in load.accepted if rid in rows and rows[rid].state in verdict.FINAL
                  and rows[rid].updated_at > rows[rid].series_start + bound_s + DRAIN_SLACK_S)
    federations = verdict.judge_federations(db_path, feed.base, feed.pushed, feed.threshold)
    kills = [f for f in run.faults if f.kind == "kill"]
    return {
        "mode": "hostile", "seed": args.seed, "duration_s": round(duration_s, 1),
        "drain_s": round(drain_s, 1), "node_stopped": node_stopped,
        "actions": dict(sorted(run.actions.items())), "skipped": dict(run.skipped),
        "kills": len(kills), "recovered": sum(1 for f in kills if f.recovery_s is not None),
        "pegouts": {
            "sent": len(load.pegouts), "accepted": len(load.accepted),
            "rejected": len(load.rejected),
            "rejections": dict(Counter(load.rejected.values()).most_common(5)),
            "unanswered": len(load.unanswered), "states": dict(states),
            "liveness_bound_s": bound_s,
            "stranded": len(stranded), "stranded_ids": stranded[:verdict.SHOWN_IDS],
            "parked": len(parked), "paid_twice": len(paid_twice),
            "paid_twice_ids": paid_twice[:verdict.SHOWN_IDS],
            "lost": len(lost), "lost_ids": lost[:verdict.SHOWN_IDS],
            "inconsistent": len(inconsistent),
            "inconsistent_ids": inconsistent[:verdict.SHOWN_IDS],
            "late": len(late), "late_ids": late[:verdict.SHOWN_IDS],
        },
        "federation": {"base": feed.base, "repeats": feed.repeats,
                       "failed_pushes": feed.failed_pushes, **asdict(federations)},
        "memory_kib": {"before": memory_before, "after": memory_after},
    }


def broken_parts(result: dict[str, Any]) -> list[str]:
    """What makes the run fail, in words; empty when it passed."""
    pegouts, federations = result["pegouts"], result["federation"]
    parts = (("the node stopped", result["node_stopped"]),
             ("stranded peg-outs", pegouts["stranded"]),
             ("peg-outs paid twice", pegouts["paid_twice"]),
             ("broadcast peg-outs missing from the spool", pegouts["lost"]),
             ("failed peg-outs in the spool", pegouts["inconsistent"]),
             ("lost federation versions", federations["lost"]),
             ("duplicated federation versions", federations["duplicated"]),
             ("federation versions taken from hostile pushes", federations["wrongly_applied"]),
             ("pushes never acknowledged", federations.get("unacknowledged")))
    return [part for part, bad in parts if bad]


def run_hostile(args: argparse.Namespace, node: NodeClient, config: NodeConfig,
                mock: MockControlClient) -> dict[str, Any]:
    run_id = f"{args.seed}-{int(time.time() * 1000)}"
    duration_s = args.minutes * 60 if args.minutes is not None else args.duration_s
    load = PegoutLoad(node, mock, config, run_id=run_id, rate_per_s=args.rate)
    feed = FederationFeed(mock, Path(config.storage.path), run_id=run_id,
                          every_s=args.federation_every_s)
    memory_before = verdict.memory(node)
    node_stopped: str | None = None
    run = HostileRun()
    started = time.monotonic()
    drain_s = 0.0
    try:
        inject_hostile(args, node, mock, config, load, feed, run_id, duration_s, run)
        duration_s = time.monotonic() - started
        print(f"drain: {len(load.accepted)} peg-outs accepted; misbehaviours off; waiting for "
              f"each to be final (bound {config.bridge.signature_deadline_s:g} + "
              f"{config.bridge.attempt_timeout_s:g} s from its series' start)", flush=True)
        drain_s = drain(node, mock, config, load, feed)
    except NodeUnreachable as exc:
        node_stopped = str(exc)
        duration_s = time.monotonic() - started
    memory_after = {} if node_stopped else verdict.memory(node)
    result = report(args, config, load, feed, run, memory_before=memory_before,
                    memory_after=memory_after, duration_s=duration_s, drain_s=drain_s,
                    node_stopped=node_stopped)
    result["federation"].update(unacknowledged_pushes(mock, config.node.id, feed))
    return result


def unacknowledged_pushes(mock: MockControlClient, node_id: str,
                          feed: FederationFeed) -> dict[str, Any]:
    """Convention 8, judged from the mock's record: every valid push acknowledged by the
    node (when it acknowledges at all). An ack follows its commit by a hop or two: the
    record is read again for a few seconds before anything counts as missing."""
    give_up = time.monotonic() + ACK_WAIT_S
    while True:
        record = mock.acks(node_id)["nodes"].get(node_id, {})
        acked = set(record.get("acked", {}))
        missing = sorted(rid for rid in feed.pushed.values() if rid not in acked)
        if not missing or not record.get("acknowledges") or time.monotonic() > give_up:
            break
        time.sleep(POLL_S)  # polling another process's record: nothing to wait on instead
    acknowledges = bool(record.get("acknowledges"))
    return {"acknowledges": acknowledges,
            "unacknowledged": missing[:verdict.SHOWN_IDS] if acknowledges else []}
