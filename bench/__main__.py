"""`scripts/bench`: how fast the node is, beside the ceilings of its parts, in one run.

Sections (all by default; `--only` picks):

- recovery: SIGKILL of each actor kind until its replacement answers `Ping`;
- stream: governance restarted until the stream is registered again, and a
  stalled server until the node notices;
- throughput: the node's inbound and outbound message rates through the
  governance stream, beside a plain grpcio stream and a plain Thespian
  pipeline carrying the same payloads (bench/ceilings.py);
- pegouts: `InitiatePegout` to the txid fsynced in the spool, one at a time,
  many at once, at offered rates, and how it grows with transaction size and
  with how many are in flight;
- footprint: `scripts/start` to ready, and the memory of every process idle,
  under load and after it;
- growth (opt-in, `--only growth`): start-up time and the RSS of the bridge,
  chain and storage with 0 to 1,000,000 finished peg-outs in the database and
  the spool (`--quick`: 0 and 1,000,000 only).

Every figure is the median of `--runs` runs with its spread; `--quick` runs
a smaller set in under 3 minutes. `--cpus 0` (a CPU list, as taskset takes
it) pins the benchmark, the node and the mock governance to those CPUs: one
core stands in for a slower or busier machine, where queues show first.
The table goes to stdout, the same figures as JSON to `--json FILE`; a
figure that could not be measured is null with its reason beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.otlp_sink import otlp_sink
from nodeconfig import load_config
from runtime.rundir import prepare_metrics_dir

SECTIONS = ("recovery", "stream", "throughput", "pegouts", "footprint")
# Run only when asked for (`--only growth`): it writes gigabytes, and the default run's time
# stays what it was.
OPT_IN = ("growth",)
# A valid secp256k1 point (federation_keys("bench", 1)): the ChainActor derives the
# federation's script from it at start.
BENCH_KEY = "0258fa04152f9a00130dbba4f3b1dbe3b58a8580451c13438dcf602b4bca539f18"


@dataclass(frozen=True)
class Profile:
    runs: int = 3
    kills: int = 20
    messages: int = 2000  # each way, per throughput run
    ceiling_messages: int = 20_000
    pegout_singles: int = 50
    pegout_burst: int = 1000
    pegout_rates: tuple[float, ...] = (10.0, 100.0, 200.0, 300.0, 500.0, 700.0, 1000.0)
    pegout_seconds: float = 4.0
    # Transactions of about 200 B, 2 KB and 20 KB (the unpadded one is ~123 B).
    paddings: tuple[int, ...] = (80, 1880, 19880)
    bursts: tuple[int, ...] = (10, 1000, 10_000)
    startup_runs: int = 5
    memory_load: int = 2000
    growth_sizes: tuple[int, ...] = (0, 10_000, 100_000, 1_000_000)
    pegout_script_type: str = "p2wsh"  # the peg-out section's federation: p2wsh or p2tr
    # `--tracing`: the peg-out section's node traces every peg-out to this OTLP/HTTP URL.
    tracing_endpoint: str | None = None


FULL = Profile()
QUICK = Profile(runs=2, kills=5, messages=1000, ceiling_messages=5000, pegout_singles=20,
                pegout_burst=500, pegout_rates=(10.0, 100.0, 500.0, 1000.0),
                pegout_seconds=2.0, bursts=(10, 1000), startup_runs=2, memory_load=500,
                growth_sizes=(0, 1_000_000))


def rates(text: str) -> tuple[float, ...]:
    """`10,100,300` -> (10.0, 100.0, 300.0); every rate positive."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of rates: {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive numbers: {text!r}")
    return values


def cpu_list(text: str) -> frozenset[int]:
    """`0`, `0,2` or `0-1` (taskset's list form) -> the CPU numbers; each one this
    process may run on."""
    cpus: set[int] = set()
    allowed = os.sched_getaffinity(0)
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            first, last = int(low), int(high if dash else low)
            # Cut at the first CPU past those allowed (refused below, by number): a range
            # such as 0-99999999999 would otherwise fill memory before it is refused.
            cpus.update(range(first, min(last, max(allowed) + 1) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a CPU list such as 0 or 0-1: {text!r}") from None
    if not cpus or not cpus <= allowed:
        raise argparse.ArgumentTypeError(
            f"CPUs {sorted(cpus)} are not among those this process may use: {sorted(allowed)}")
    return frozenset(cpus)


def bench_config(directory: Path, admin_port: int) -> Path:
    """A node with limits wide enough that repeated kills never escalate."""
    wide = {"strategy": "one_for_one", "intensity": 1000, "period_s": 60}
    document = {
        "node": {"id": "alys-bench"},
        "actor_system": {"admin_port": admin_port},
        # Plaintext to the local stand-in: the production profile asks for it by name.
        "governance": {"mock": {"enabled": False}, "allow_plaintext": True},
        "chain": {"federation": {"threshold": 1, "members": [
            {"member_id": "m1", "public_key": BENCH_KEY}]}},
        "supervision": {"supervisors": {name: wide for name in
                                        ("root", "storage_supervisor", "system_supervisor")}},
        "metrics": {"port": admin_port + 1},
        "logging": {"file": str(directory / "node.log"), "level": "WARNING"},
        "storage": {"path": str(directory / "data" / "node.sqlite3")},
        # The outflow window is checked for every peg-out as in production, but with a cap
        # the benchmark's hundreds of thousands of peg-outs never reach.
        "bridge": {"broadcaster": {"spool_path": str(directory / "data" / "spool")},
                   "outflow": {"max_sat": 21_000_000 * 100_000_000}},
    }
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Profile]:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller set, under 3 minutes")
    parser.add_argument("--only", action="append", choices=(*SECTIONS, *OPT_IN),
                        help="run only this section (repeatable); default: all of them")
    parser.add_argument("--runs", type=int, help="runs per figure (median and spread)")
    parser.add_argument("--kills", type=int, help="kills per actor kind")
    parser.add_argument("--messages", type=int, help="messages each way per throughput run")
    parser.add_argument("--pegouts", type=int, help="peg-outs sent at once")
    parser.add_argument("--pegout-singles", type=int, help="peg-outs sent one at a time")
    parser.add_argument("--pegout-rates", "--pegout-rate", type=rates, metavar="R[,R...]",
                        help="offered loads in peg-outs per second")
    parser.add_argument("--pegout-seconds", type=float, help="how long each offered load lasts")
    parser.add_argument("--pegout-script-type", choices=("p2wsh", "p2tr"),
                        help="the peg-out section's 3-of-5 federation: p2wsh (ECDSA, the "
                             "default) or p2tr (Schnorr over a tapscript leaf)")
    parser.add_argument("--growth", action=argparse.BooleanOptionalAction, default=True,
                        help="peg-out latency by transaction size and by peg-outs in flight")
    parser.add_argument("--tracing", action="store_true",
                        help="the peg-out section's node traces every peg-out (OpenTelemetry, "
                             "to a collector stand-in on loopback): what tracing costs")
    parser.add_argument("--cpus", type=cpu_list, metavar="LIST",
                        help="run everything on these CPUs only (e.g. 0 or 0-1): a slower machine")
    parser.add_argument("--admin-port", type=int, default=19700)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    overrides = {"runs": args.runs, "kills": args.kills, "messages": args.messages,
                 "pegout_burst": args.pegouts, "pegout_singles": args.pegout_singles,
                 "pegout_rates": args.pegout_rates, "pegout_seconds": args.pegout_seconds,
                 "pegout_script_type": args.pegout_script_type}
    profile = replace(profile, **{k: v for k, v in overrides.items() if v is not None})
    if not args.growth:
        profile = replace(profile, paddings=(), bursts=())
    if min(profile.runs, profile.pegout_burst, profile.pegout_singles, profile.messages) < 1:
        parser.error("--runs, --pegouts, --pegout-singles and --messages need at least 1")
    if profile.pegout_seconds <= 0:
        parser.error("--pegout-seconds must be positive")
    return args, profile


def main(argv: list[str] | None = None) -> int:
    args, profile = parse_args(argv)
    sections = [s for s in (*SECTIONS, *OPT_IN) if s in set(args.only or SECTIONS)]
    if args.cpus:
        # Inherited by every process started from here on: the node, the mock, the clients.
        os.sched_setaffinity(0, args.cpus)
    cores = (f"pinned to CPU {','.join(map(str, sorted(args.cpus)))} of {os.cpu_count()}"
             if args.cpus else f"{os.cpu_count()} cores")
    machine = (f"{platform.machine()}, {cores}, "
               f"{platform.python_implementation()} {platform.python_version()}")
    document: dict[str, Any] = {"machine": machine, "profile": asdict(profile),
                                "sections": sections,
                                "cpus": sorted(args.cpus) if args.cpus else None}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="alys-bench-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        if args.tracing:
            endpoint, sink = stack.enter_context(otlp_sink())
            profile = replace(profile, tracing_endpoint=endpoint)
            document["profile"] = asdict(profile)
        config = load_config(bench_config(directory, args.admin_port))
        prepare_metrics_dir(directory / "metrics")
        # Imported only now: prometheus_client must see the metrics directory first.
        from bench import report

        for section in sections:
            runner = getattr(report, f"run_{section}")
            runner(document, directory / section, profile, config)
            sys.stdout.flush()
        if args.tracing:
            document["tracing"] = {"exports": sink.exports, "bytes": sink.bytes}
            print(f"traces: {sink.exports} exports, {sink.bytes:,} bytes received")
    document["elapsed_s"] = round(time.monotonic() - started, 1)
    print(f"({machine}; {document['elapsed_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
