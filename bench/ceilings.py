"""The two ceilings of the node's inbound figure: a plain grpcio stream and a plain Thespian hop.

Issue 6 measures the node's inbound routing against the parts it is built
from, in the same run, with the same payloads:

- `grpc_ceiling`: a plain grpcio bidirectional stream (the project's own
  `GovernanceStream.Stream`) between two subprocesses in the roles of
  governance (server) and node (client). In "echo" mode, the issue's gRPC
  ceiling (`inbound.grpc_ceiling_msgs_per_s`), the client sends the node's
  `SignatureRequest` and the server answers each with the next frame, as a
  peg-out's request and answer cross the stream. In "push" mode the server
  sends pre-built `StreamResponse` frames as fast as grpcio takes them and
  the client only counts them: a higher figure, reported beside it
  (`inbound.grpc_push_ceiling_msgs_per_s`).
- `actor_ceiling`: a plain Thespian pipeline on `multiprocTCPBase`, a sender
  and a receiver actor, each its own process, one message per send; the
  same pipeline with `Batch`es of 500 is reported beside it. Thespian's
  transmit window (THESPIAN_MAX_PENDING_TRANSMITS) is set to 2 in the
  sender, which carries single messages ~1.9x as fast as the default of
  20 (measurements below); the default-window figures, what the node runs
  with, are reported beside them. Its frames carry the tag the node's carry
  (runtime/frames.py, under a key of its own), and its loop is adapted as the
  node's (runtime/leanloop.py): the ceiling is of the transport the node runs.
  `tagged=False` measures it without the tag, in a process where no key was
  ever installed (the tag's cost, BENCHMARKS.md).

The payloads ("signature", "federation", "mixed") and the messages the node
routes for them are built in `bench/ceiling_payloads.py`.

A rate is the items that arrived after the first one, over the time from
the first arrival to the last, measured where they arrive: the first item's
own transfer is not part of any interval, so counting it would flatter the
figure (by one message in 20,000, but by a whole batch of 500 in the
batched figure).

This module runs in the benchmark's main process, which creates Thespian
actor systems: it must never import grpc. Everything grpcio runs in
`python -m bench.ceiling_grpc` subprocesses that report one JSON line.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.ceiling_payloads import frame_kind
from harness.mock import REPO_ROOT, project_env
from harness.ports import LOOPBACK, free_port

# -- figures -----------------------------------------------------------------------------


def summary(rates: Sequence[float]) -> dict[str, Any]:
    """Median, every run, and [min, max] of a list of rates (msg/s), rounded to whole ones."""
    return {"msgs_per_s": round(statistics.median(rates)),
            "runs": [round(rate) for rate in rates],
            "spread": [round(min(rates)), round(max(rates))]}


# -- the gRPC ceiling --------------------------------------------------------------------

GRPC_START_TIMEOUT_S = 30.0
GRPC_STOP_TIMEOUT_S = 10.0
GRPC_MODES = ("push", "echo")


def _ready_line(process: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any]:
    """The server's first stdout line, as JSON; RuntimeError if it exits or takes too long."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise RuntimeError(f"the gRPC ceiling server was not ready within {timeout_s:g}s")
    line = process.stdout.readline()  # the server prints the whole line at once
    if not line:
        raise RuntimeError(f"the gRPC ceiling server exited with {process.wait()}")
    ready: dict[str, Any] = json.loads(line)
    return ready


def grpc_ceiling(count: int, payload: str, *, runs: int = 3,
                 modes: Sequence[str] = GRPC_MODES) -> dict[str, Any]:
    """A plain grpcio `GovernanceStream.Stream` between two subprocesses; see the module's doc.

    Returns, for the server -> client push: `msgs_per_s` (median of `runs`),
    `runs`, `spread` [min, max]; `frames_bytes`, the average size of a pushed
    frame; and, if "echo" is in `modes` (the client sends the node's
    `SignatureRequest`, the server answers each with the next frame, both
    directions at once; the issue's gRPC ceiling): `echo_msgs_per_s`,
    `echo_runs`, `echo_spread` and `request_bytes`.
    """
    if count < 2 or runs < 1:
        raise ValueError(f"need count >= 2 and runs >= 1, got count={count}, runs={runs}")
    frame_kind(payload, 0)
    if "push" not in modes or set(modes) - set(GRPC_MODES):
        raise ValueError(f"modes must include 'push', from {GRPC_MODES}; got {list(modes)}")
    command = [sys.executable, "-m", "bench.ceiling_grpc"]
    with tempfile.TemporaryFile() as server_err:
        server = subprocess.Popen([*command, "serve", "--payload", payload, "--count", str(count)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=server_err, cwd=REPO_ROOT, env=project_env())
        try:
            ready = _ready_line(server, GRPC_START_TIMEOUT_S)
            # Generous: ~1,000 frames/s would be a machine five times slower than this one.
            budget_s = 60.0 + runs * len(modes) * count / 1000
            client = subprocess.run(
                [*command, "client", "--target", f"{LOOPBACK}:{ready['port']}",
                 "--count", str(count), "--runs", str(runs), "--modes", ",".join(modes)],
                capture_output=True, cwd=REPO_ROOT, env=project_env(), timeout=budget_s,
                check=False)
            if client.returncode != 0:
                raise RuntimeError(f"the gRPC ceiling client failed ({client.returncode}):\n"
                                   f"{client.stderr.decode(errors='replace')}")
            report = json.loads(client.stdout.decode().strip().splitlines()[-1])
        except BaseException:
            _stop(server)
            server_err.seek(0)
            sys.stderr.write(server_err.read().decode(errors="replace"))
            raise
        _stop(server)
    result = summary(report["rates"]["push"])
    result.update({"frames_bytes": round(ready["frame_bytes"], 1), "count": count,
                   "payload": payload, "direction": "server -> client push"})
    if "echo" in report["rates"]:
        echo = summary(report["rates"]["echo"])
        result.update({"echo_msgs_per_s": echo["msgs_per_s"], "echo_runs": echo["runs"],
                       "echo_spread": echo["spread"], "request_bytes": report["request_bytes"]})
    return result


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Close the server's stdin (its signal to stop); kill it if it does not stop in time."""
    if server.stdin is not None:
        server.stdin.close()
    try:
        server.wait(timeout=GRPC_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    if server.stdout is not None:
        server.stdout.close()


# -- the actor ceiling -------------------------------------------------------------------

ACTOR_BASE = "multiprocTCPBase"
# Measured on this machine (2 cores, 4,000 signature messages per run, medians of 2):
#
#   transmit window    sends per receiveMessage: 5     10     20     50    100    200
#   1                                        2563   2702   2786   2768   2540   2284
#   2                                        2886   3003   3121   3127   2885   2616
#   3                                        2810   2992   3092   3032   2902   2563
#   20 (the default)  10: 1623, 20: 1569, 50: 1625, 200: 1279, 400: 1148, 800: 1092
#
# Why (py-spy on both actors): Thespian's TCP transport has one message per
# target on the wire at a time and waits for the receiver's ACK before the
# next, so a single-message hop is a round trip per message. Whatever else
# the window admits waits beside it, and the sender's every loop recomputes
# the timeouts of every waiting transmit (and every transmit rescans the
# queue for expired ones): at the default window of 20 that bookkeeping
# keeps the sender busy ~80% of its time for ~1.6k msg/s; at 2 the sender is
# ~2/3 busy, the receiver ~1/3, and the round trip is the limit. A longer
# slice is a longer queue to rescan; a shorter one pays a self-send for a few
# messages. Batches of 500 (20,000 items): window 2, 1 Batch per
# receiveMessage 123k items/s, 4: 92k, 40: 79k; default window, 1: 89k, 4: 84k.
# There pickling limits: ~70% of the sender's time goes to pickle.dumps of a
# 400 KB Batch, ~70% of the receiver's to pickle.loads.
SLICE_SIZE = 50
TRANSMIT_WINDOW = 2
BATCH_SLICE_SIZE = 1
BATCH_SIZE = 500  # items per Batch: the node's own batching
ASK_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 120.0
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class OwnSystem:
    asys: Any  # thespian ActorSystem
    admin_pid: int
    session: int  # the admin's own session: the admin daemonizes, its actors stay in it


@contextmanager
def actor_system(*, tagged: bool = True) -> Iterator[OwnSystem]:
    """A Thespian system of its own (free admin port, `transientUnique`); no process outlives it.

    Set up like the node's: `multiprocTCPBase`, forked processes, every socket
    confined to loopback, every frame tagged (with a key of its own; this
    process's clients of a node must be done with it). The admin leaves this
    process's tree (it forks twice and starts a session of its own, as the
    node's does), so what is left at the end is found by that session, not
    among this process's children.
    """
    from thespian.actors import ActorSystem

    from runtime import frames, leanloop
    from runtime.loopback import confine_actor_sockets
    from runtime.processes import kill_all, listening_pid, session_members, wait_gone

    if "grpc" in sys.modules:  # every actor is forked from this process
        raise RuntimeError("grpc is imported in the process that would start the actor system")
    confine_actor_sockets(LOOPBACK)
    leanloop.install()
    if tagged:
        frames.install(secrets.token_bytes(frames.SECRET_BYTES))
    elif frames.installed():
        raise RuntimeError("an untagged ceiling needs a process where no key was installed")
    port = free_port()
    asys = ActorSystem(ACTOR_BASE, {"Admin Port": port, "Process Startup Method": "fork"},
                       transientUnique=True)
    admin_pid = listening_pid(port)
    session = os.getsid(admin_pid) if admin_pid is not None else None
    try:
        if admin_pid is None or session is None or session == os.getsid(0):
            raise RuntimeError(f"no admin of its own session listens on port {port}")
        yield OwnSystem(asys, admin_pid, session)
    finally:
        asys.shutdown()
        # shutdown() returns once the admin acknowledged; its processes exit a moment later.
        if session is not None and session != os.getsid(0):
            left = wait_gone(session_members(session), STOP_GRACE_S)
            if left:
                kill_all(left)


def _ask(asys: Any, address: Any, message: Any, expect: type, timeout_s: float) -> Any:
    reply = asys.ask(address, message, timeout_s)
    if not isinstance(reply, expect):
        raise RuntimeError(f"{type(message).__name__}: expected {expect.__name__}, got {reply!r}")
    return reply


def _actor_run(asys: Any, sender: Any, receiver: Any, payload: str, count: int, *,
               batch: int = 0, slice_size: int = SLICE_SIZE,
               transmit_window: int | None = None) -> float:
    """One timed run: items per second at the receiver, after the first arrival."""
    from bench.ceiling_actors import Arm, Armed, Arrived, Go, Prepare, Prepared

    _ask(asys, sender, Prepare(payload, count, batch), Prepared, ASK_TIMEOUT_S)
    _ask(asys, receiver, Arm(count), Armed, ASK_TIMEOUT_S)
    asys.tell(sender, Go(receiver, slice_size, transmit_window))
    arrived = asys.listen(RUN_TIMEOUT_S)
    if not isinstance(arrived, Arrived):
        raise RuntimeError(f"the receiver did not report {count} items (got {arrived!r})")
    if arrived.items != count:
        raise RuntimeError(f"the receiver counted {arrived.items} items, expected {count}")
    return arrived.rate


def actor_ceiling(count: int, payload: str, *, runs: int = 3,
                  default_window_count: int | None = None,
                  tagged: bool = True) -> dict[str, Any]:
    """A plain Thespian sender -> receiver pipeline, two processes; see the module's doc.

    Figures, each the median of `runs` with `..._runs` and `..._spread` [min, max]:

    - `msgs_per_s`: `count` messages, one per send, Thespian's transmit window
      at `TRANSMIT_WINDOW`: the fastest the library carries single messages;
    - `batched_msgs_per_s`: `count` items in `Batch`es of `BATCH_SIZE`, same window;
    - `default_window_msgs_per_s` and `default_window_batched_msgs_per_s`: the
      same two with Thespian's default window (20), as the node runs. The
      single messages go over `default_window_count` (default: a quarter of
      `count`, at least 1,000): at ~1.6k msg/s the full count would take
      most of the benchmark's time, and the rate is steady within a few
      hundred messages.
    """
    from bench.ceiling_actors import DEFAULT_TRANSMIT_WINDOW, CeilingReceiver, CeilingSender

    if count < 2 or runs < 1:
        raise ValueError(f"need count >= 2 and runs >= 1, got count={count}, runs={runs}")
    frame_kind(payload, 0)  # an unknown payload fails here, not in the sender's process
    small = default_window_count or min(count, max(1000, count // 4))
    series = {  # name: (messages, batch size, sends per receiveMessage, window)
        "": (count, 0, SLICE_SIZE, TRANSMIT_WINDOW),
        "batched_": (count, BATCH_SIZE, BATCH_SLICE_SIZE, TRANSMIT_WINDOW),
        "default_window_": (small, 0, SLICE_SIZE, None),
        "default_window_batched_": (count, BATCH_SIZE, BATCH_SLICE_SIZE, None),
    }
    null_reasons: dict[str, str] = {}
    if count < 2 * BATCH_SIZE:  # a rate needs a second arrival after the first
        for name in ("batched_", "default_window_batched_"):
            del series[name]
            null_reasons[f"{name}msgs_per_s"] = (
                f"{count} items make fewer than two Batches of {BATCH_SIZE}")
    rates: dict[str, list[float]] = {name: [] for name in series}
    with actor_system(tagged=tagged) as system:
        asys = system.asys
        sender = asys.createActor(CeilingSender)
        receiver = asys.createActor(CeilingReceiver)
        # Interleaved run by run, so a slow spell of the machine hits every figure alike.
        for _ in range(runs):
            for name, (messages, batch, slice_size, window) in series.items():
                rates[name].append(_actor_run(asys, sender, receiver, payload, messages,
                                              batch=batch, slice_size=slice_size,
                                              transmit_window=window))
    result: dict[str, Any] = {}
    for name, values in rates.items():
        result.update({f"{name}{key}": value for key, value in summary(values).items()})
    for key in null_reasons:
        result.update({key: None, key.replace("msgs_per_s", "runs"): [],
                       key.replace("msgs_per_s", "spread"): None})
    result["null_reasons"] = null_reasons
    result.update({"count": count, "payload": payload, "transmit_window": TRANSMIT_WINDOW,
                   "default_transmit_window": DEFAULT_TRANSMIT_WINDOW,
                   "slice_size": SLICE_SIZE, "batch_size": BATCH_SIZE,
                   "default_window_count": small, "tagged": tagged,
                   "processes": {"admin": system.admin_pid, "session": system.session}})
    return result


def untagged_actor_ceiling(count: int, payload: str, *, runs: int = 3) -> dict[str, Any]:
    """`actor_ceiling` with frames untagged, measured in a fresh interpreter (a process
    that installed a frame key cannot unpatch Thespian): beside the tagged ceiling, the
    cost of the frame tag (issue 14)."""
    import json
    import subprocess
    import sys

    script = ("import json, sys; from bench import ceilings; "
              "print(json.dumps(ceilings.actor_ceiling(int(sys.argv[1]), sys.argv[2], "
              "runs=int(sys.argv[3]), tagged=False)))")
    done = subprocess.run([sys.executable, "-c", script, str(count), payload, str(runs)],
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the untagged Thespian ceiling failed: {done.stderr[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
