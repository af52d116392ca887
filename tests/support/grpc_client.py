"""A scripted gRPC client for the mock governance server, run as its own process.

The pytest process forks Thespian actor systems, and gRPC must never be
initialised in a process before it forks; so tests drive gRPC through this
script instead of importing grpc themselves.

    python -m tests.support.grpc_client --target HOST:PORT [CONNECTION] stream --requests FILE
        [--expect N] [--half-close] [--raw] [--metadata KEY=VALUE ...]
    python -m tests.support.grpc_client --target HOST:PORT [CONNECTION] health
    python -m tests.support.grpc_client --target HOST:PORT [CONNECTION] capabilities [--node-id ID]

CONNECTION: --ca FILE (TLS, trusting that PEM CA), --cert FILE --key FILE (a
client certificate, for mutual TLS), --token TOKEN (call metadata
`authorization: Bearer TOKEN`). Without --ca or --cert the channel is plaintext.

FILE holds a JSON list of StreamRequest objects (protobuf JSON, proto field
names). Every message received is printed to stdout as one JSON line. With
--raw the stream reads frames as bytes, and prints each as
`{"raw_base64": ..., "parse_error": <text or null>, "message": <JSON or null>}`,
so a frame that does not parse is seen instead of failing the call. The
stream ends after N responses (--expect), or when the server ends the call.
The final status goes to stderr as `grpc-client: status=<CODE> details=<text>`.

Exit status: 0 done, 2 bad usage or input, 3 the call failed with a non-OK
status, 4 the deadline (--timeout) passed first, 5 the server ended the call
(OK) before --expect responses arrived.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from protocol import governance_pb2 as pb
from protocol import governance_pb2_grpc as pb_grpc

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_RPC_FAILED = 3
EXIT_DEADLINE = 4
EXIT_ENDED_EARLY = 5


STREAM_METHOD = "/governance.v1.GovernanceStream/Stream"


def as_json(message: Message) -> dict[str, object]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def emit(message: Message) -> None:
    print(json.dumps(as_json(message)), flush=True)


def emit_raw(frame: bytes) -> None:
    """One frame as read off the wire, and what parsing it as a StreamResponse gave."""
    line: dict[str, object] = {"raw_base64": base64.b64encode(frame).decode("ascii")}
    try:
        line.update(parse_error=None, message=as_json(pb.StreamResponse.FromString(frame)))
    except DecodeError as error:
        line.update(parse_error=str(error), message=None)
    print(json.dumps(line), flush=True)


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


def call_metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    pairs = [tuple(item.split("=", 1)) for item in getattr(args, "metadata", [])]
    if args.token is not None:
        pairs.append(("authorization", f"Bearer {args.token}"))
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"--metadata takes KEY=VALUE, got {pair[0]!r}")
    return tuple((key, value) for key, value in pairs)


def run_stream(channel: grpc.Channel, args: argparse.Namespace) -> int:
    requests = load_requests(args.requests)
    metadata = call_metadata(args)
    done = threading.Event()
    # response_deserializer=None: frames arrive as bytes, parsed (or not) by emit_raw.
    method = channel.stream_stream(
        STREAM_METHOD,
        request_serializer=pb.StreamRequest.SerializeToString,
        response_deserializer=None if args.raw else pb.StreamResponse.FromString,
    )
    call = method(
        scripted(requests, done, args.half_close), timeout=args.timeout, metadata=metadata
    )
    received = 0
    try:
        for response in call:
            if args.raw:
                emit_raw(response)
            else:
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


def run_health(channel: grpc.Channel, args: argparse.Namespace) -> int:
    stub = pb_grpc.GovernanceStreamStub(channel)
    try:
        emit(stub.Health(pb.HealthRequest(), timeout=args.timeout, metadata=call_metadata(args)))
    except grpc.RpcError as error:
        return report(error.code(), error.details() or "")
    return EXIT_OK


def run_capabilities(channel: grpc.Channel, args: argparse.Namespace) -> int:
    stub = pb_grpc.GovernanceStreamStub(channel)
    request = pb.CapabilitiesRequest(node_id=args.node_id)
    try:
        emit(stub.GetCapabilities(request, timeout=args.timeout, metadata=call_metadata(args)))
    except grpc.RpcError as error:
        return report(error.code(), error.details() or "")
    return EXIT_OK


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="grpc_client")
    parser.add_argument("--target", required=True, help="HOST:PORT of the gRPC server")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of the call, s")
    parser.add_argument("--ca", type=Path, help="TLS: trust this PEM CA for the server's cert")
    parser.add_argument("--cert", type=Path, help="TLS: PEM client certificate (mutual TLS)")
    parser.add_argument("--key", type=Path, help="TLS: PEM private key of --cert")
    parser.add_argument("--token", help="send call metadata `authorization: Bearer TOKEN`")
    commands = parser.add_subparsers(dest="command", required=True)
    stream = commands.add_parser("stream")
    stream.add_argument("--requests", required=True, help="JSON list of StreamRequest, or -")
    stream.add_argument("--expect", type=int, default=None, help="stop after N responses")
    stream.add_argument(
        "--half-close", action="store_true", help="close our side once the script is sent"
    )
    stream.add_argument("--metadata", action="append", default=[], help="KEY=VALUE call metadata")
    stream.add_argument(
        "--raw", action="store_true", help="read frames as bytes; print them even if unparsable"
    )
    stream.set_defaults(run=run_stream)
    health = commands.add_parser("health")
    health.set_defaults(run=run_health)
    capabilities = commands.add_parser("capabilities")
    capabilities.add_argument("--node-id", default="")
    capabilities.set_defaults(run=run_capabilities)
    args = parser.parse_args(argv)
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    return args


def open_channel(args: argparse.Namespace) -> grpc.Channel:
    if args.ca is None and args.cert is None:
        return grpc.insecure_channel(args.target)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=None if args.ca is None else args.ca.read_bytes(),
        private_key=None if args.key is None else args.key.read_bytes(),
        certificate_chain=None if args.cert is None else args.cert.read_bytes(),
    )
    return grpc.secure_channel(args.target, credentials)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with open_channel(args) as channel:
            return int(args.run(channel, args))
    except (ValueError, OSError, json_format.ParseError) as error:
        print(f"grpc-client: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
