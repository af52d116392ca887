"""A scripted gRPC client for the mock governance server, run as its own process.

The pytest process forks Thespian actor systems, and gRPC must never be
initialised in a process before it forks; so tests drive gRPC through this
script instead of importing grpc themselves.

    python -m tests.support.grpc_client --target HOST:PORT stream --requests FILE
        [--expect N] [--half-close] [--metadata KEY=VALUE ...]
    python -m tests.support.grpc_client --target HOST:PORT health
    python -m tests.support.grpc_client --target HOST:PORT capabilities [--node-id ID]

FILE holds a JSON list of StreamRequest objects (protobuf JSON, proto field
names). Every message received is printed to stdout as one JSON line. The
stream ends after N responses (--expect), or when the server ends the call.
The final status goes to stderr as `grpc-client: status=<CODE> details=<text>`.

Exit status: 0 done, 2 bad usage or input, 3 the call failed with a non-OK
status, 4 the deadline (--timeout) passed first, 5 the server ended the call
(OK) before --expect responses arrived.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from protocol import governance_pb2 as pb
from protocol import governance_pb2_grpc as pb_grpc

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_RPC_FAILED = 3
EXIT_DEADLINE = 4
EXIT_ENDED_EARLY = 5


def emit(message: Message) -> None:
    line = json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True))
    print(line, flush=True)


def report(code: grpc.StatusCode, details: str) -> int:
    print(f"grpc-client: status={code.name} details={details}", file=sys.stderr, flush=True)
    if code == grpc.StatusCode.OK:
        return EXIT_OK
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return EXIT_DEADLINE
    return EXIT_RPC_FAILED


def load_requests(path: str) -> list[pb.StreamRequest]:
    raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    items = json.loads(raw)
    if not isinstance(items, list):
        raise ValueError("the requests file must hold a JSON list")
    return [json_format.ParseDict(item, pb.StreamRequest()) for item in items]


def scripted(
    requests: list[pb.StreamRequest], done: threading.Event, half_close: bool
) -> Iterator[pb.StreamRequest]:
    yield from requests
    if not half_close:
        # Keep our side open, as a node does, until we decide to stop.
        done.wait()


def run_stream(stub: pb_grpc.GovernanceStreamStub, args: argparse.Namespace) -> int:
    requests = load_requests(args.requests)
    metadata = tuple(tuple(item.split("=", 1)) for item in args.metadata)
    done = threading.Event()
    call = stub.Stream(
        scripted(requests, done, args.half_close), timeout=args.timeout, metadata=metadata
    )
    received = 0
    try:
        for response in call:
            emit(response)
            received += 1
            if args.expect is not None and received >= args.expect:
                done.set()
                call.cancel()
                print(f"grpc-client: done after {received} response(s)", file=sys.stderr)
                return EXIT_OK
    except grpc.RpcError as error:
        return report(error.code(), error.details() or "")
    finally:
        done.set()
    ended = report(grpc.StatusCode.OK, f"server ended the stream after {received} response(s)")
    if args.expect is not None:
        return EXIT_ENDED_EARLY
    return ended


def run_health(stub: pb_grpc.GovernanceStreamStub, args: argparse.Namespace) -> int:
    try:
        emit(stub.Health(pb.HealthRequest(), timeout=args.timeout))
    except grpc.RpcError as error:
        return report(error.code(), error.details() or "")
    return EXIT_OK


def run_capabilities(stub: pb_grpc.GovernanceStreamStub, args: argparse.Namespace) -> int:
    try:
        emit(
            stub.GetCapabilities(pb.CapabilitiesRequest(node_id=args.node_id), timeout=args.timeout)
        )
    except grpc.RpcError as error:
        return report(error.code(), error.details() or "")
    return EXIT_OK


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grpc_client")
    parser.add_argument("--target", required=True, help="HOST:PORT of the gRPC server")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of the call, s")
    commands = parser.add_subparsers(dest="command", required=True)
    stream = commands.add_parser("stream")
    stream.add_argument("--requests", required=True, help="JSON list of StreamRequest, or -")
    stream.add_argument("--expect", type=int, default=None, help="stop after N responses")
    stream.add_argument(
        "--half-close", action="store_true", help="close our side once the script is sent"
    )
    stream.add_argument("--metadata", action="append", default=[], help="KEY=VALUE call metadata")
    stream.set_defaults(run=run_stream)
    health = commands.add_parser("health")
    health.set_defaults(run=run_health)
    capabilities = commands.add_parser("capabilities")
    capabilities.add_argument("--node-id", default="")
    capabilities.set_defaults(run=run_capabilities)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with grpc.insecure_channel(args.target) as channel:
            return int(args.run(pb_grpc.GovernanceStreamStub(channel), args))
    except (ValueError, OSError, json_format.ParseError) as error:
        print(f"grpc-client: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
