"""The gRPC ceiling's two processes: `python -m bench.ceiling_grpc serve|client ...`.

Run by `bench.ceilings.grpc_ceiling`, never imported by it: the benchmark's
main process creates Thespian actor systems, and gRPC must not be
initialised in a process that forks afterwards.

- `serve --payload P --count N`: a plain grpcio server of the project's
  `GovernanceStream` (governance's role) on a free 127.0.0.1 port. It builds
  N frames before it reports ready, then per `Stream` call, as the call's
  metadata asks: `push` returns an iterator over the pre-built frames (grpcio
  serializes and sends as fast as it can), `echo` answers each request of the
  client with the next frame. It prints one JSON line when ready and stops
  when its stdin closes (so it also stops if the benchmark dies).
- `client --target HOST:PORT --count N --runs R --modes push,echo`: the
  node's role; one channel, a warm-up call per mode, then one call per run,
  modes interleaved run by run; prints one JSON line with every run's rate.

The client reads with the generated stub, so each frame is parsed into a
`StreamResponse`, as a plain grpcio client would (parsing a 709-byte frame
takes 0.6 us of the ~65 us a frame costs). A rate is the frames after the
first over the time from the first arrival to the last, taken in the client.

Both sides use grpcio's synchronous API, as the node does. grpc.aio on
either side or both was measured too (push, 20,000 signature frames, 12 runs
each): medians 17.3k (sync) and 18.0k (aio) frames/s, the same within a
spread of 11k-26k for both, so the simpler one stays.

What limits it (py-spy, and CPU time over 60,000 frames): push keeps the
client busy a full core (~65 us per frame: its reader waits on a condition
that grpcio's channel-spin thread signals frame by frame) and the server
~60% of one (its handler thread waits for each write to complete before it
takes the next frame, a hand-off through the completion-queue thread). Echo
keeps both processes busy, ~1.7 of the 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from bench.ceiling_payloads import PAYLOADS, echo_request, response_frames
from protocol import governance_pb2 as pb
from protocol.governance_pb2_grpc import (
    GovernanceStreamServicer,
    GovernanceStreamStub,
    add_GovernanceStreamServicer_to_server,
)

MODES = ("push", "echo")
MODE_KEY = "bench-mode"
COUNT_KEY = "bench-count"
LOOPBACK = "127.0.0.1"
# grpcio turns SO_REUSEPORT on by default: a stray server on the same port
# could take the connection. The server binds port 0, but stay explicit.
SERVER_OPTIONS = (("grpc.so_reuseport", 0),)
CALL_TIMEOUT_S = 120.0
WARMUP_FRAMES = 2000


class CeilingServicer(GovernanceStreamServicer):
    def __init__(self, frames: list[pb.StreamResponse]) -> None:
        self.frames = frames

    def Stream(self, request_iterator: Iterator[pb.StreamRequest],
               context: grpc.ServicerContext) -> Iterator[pb.StreamResponse]:
        metadata = dict(context.invocation_metadata())
        count = min(int(metadata.get(COUNT_KEY, len(self.frames))), len(self.frames))
        if metadata.get(MODE_KEY) == "echo":
            return self._echo(request_iterator)
        # A plain iterator over pre-built messages: per frame, grpcio's handler thread
        # runs nothing but grpcio's own code (and the frame's serialization, 0.5 us).
        return iter(self.frames[:count])

    def _echo(self, requests: Iterator[pb.StreamRequest]) -> Iterator[pb.StreamResponse]:
        frames = self.frames
        for index, _ in enumerate(requests):
            yield frames[index % len(frames)]


def serve(payload: str, count: int) -> int:
    frames = response_frames(payload, count)
    sizes = [frame.ByteSize() for frame in frames]
    # The client opens one call at a time, and a sync handler thread both reads the
    # requests and writes the responses: one worker would do; a second keeps a stray
    # extra call from queueing behind a long run.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=SERVER_OPTIONS)
    add_GovernanceStreamServicer_to_server(CeilingServicer(frames), server)
    port = server.add_insecure_port(f"{LOOPBACK}:0")
    server.start()
    print(json.dumps({"ready": True, "port": port, "pid": os.getpid(),
                      "frames": len(frames), "frame_bytes": sum(sizes) / len(sizes),
                      "frame_bytes_min": min(sizes), "frame_bytes_max": max(sizes)}),
          flush=True)
    try:
        sys.stdin.read()  # EOF: the benchmark is done with us, or gone
    finally:
        server.stop(grace=None)
    return 0


def _time_frames(call: Iterator[Any], count: int) -> tuple[float, int]:
    """(seconds from the first frame to the last, frames received); reads the call to its end."""
    frames = iter(call)
    next(frames)
    first = time.perf_counter()
    # islice keeps the per-frame work in C: Python only runs grpcio's own code.
    for _ in itertools.islice(frames, count - 2):
        pass
    next(frames)
    last = time.perf_counter()
    extra = sum(1 for _ in frames)  # should be none: the server sends exactly `count`
    return last - first, count + extra


def measure(stub: GovernanceStreamStub, mode: str, count: int) -> float:
    """One run, one call: frames per second after the first."""
    if mode == "push":
        requests: Iterator[pb.StreamRequest] = iter(())  # the server only pushes
    else:
        requests = itertools.repeat(echo_request(), count)
    call = stub.Stream(requests, metadata=((MODE_KEY, mode), (COUNT_KEY, str(count))),
                       timeout=CALL_TIMEOUT_S)
    elapsed, received = _time_frames(call, count)
    if received != count:
        raise RuntimeError(f"{mode}: received {received} frames, expected {count}")
    return (count - 1) / elapsed


def client(target: str, count: int, runs: int, modes: list[str]) -> int:
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    # One channel, one call per run: the node's stream, too, runs on a connection
    # that is up already. (A fresh channel per run measured the same within the
    # spread, which is wide on this 2-core machine either way.)
    with grpc.insecure_channel(target) as channel:
        stub = GovernanceStreamStub(channel)
        # The first call of a fresh server and connection was seen ~30% slower (threads,
        # allocations, flow-control windows all start cold): warm up, untimed.
        for mode in modes:
            measure(stub, mode, min(count, WARMUP_FRAMES))
        # Interleaved run by run, so a slow spell of the machine hits every mode alike.
        for _ in range(runs):
            for mode in modes:
                rates[mode].append(measure(stub, mode, count))
    request_bytes = echo_request().ByteSize()
    print(json.dumps({"count": count, "rates": rates, "request_bytes": request_bytes}),
          flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling_grpc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve")
    server.add_argument("--payload", choices=PAYLOADS, required=True)
    server.add_argument("--count", type=int, required=True)
    runner = commands.add_parser("client")
    runner.add_argument("--target", required=True)
    runner.add_argument("--count", type=int, required=True)
    runner.add_argument("--runs", type=int, default=3)
    runner.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args(argv)
    if args.count < 2:
        parser.error("--count must be at least 2 (a rate needs a first and a last frame)")
    if args.command == "serve":
        return serve(args.payload, args.count)
    modes = [mode for mode in args.modes.split(",") if mode]
    unknown = set(modes) - set(MODES)
    if unknown or not modes:
        parser.error(f"--modes takes {', '.join(MODES)}; got {args.modes!r}")
    return client(args.target, args.count, args.runs, modes)


if __name__ == "__main__":
    sys.exit(main())
