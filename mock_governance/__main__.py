"""Run the mock governance server: ``python -m mock_governance --help``.

Once both servers listen it prints one line to stdout and flushes (shown
here on two lines):

    mock-governance: ready grpc=127.0.0.1:<port> control=127.0.0.1:<control_port>
    pid=<pid> tls=<off|on|mtls>

With --tls-cert and --tls-key the gRPC port speaks TLS; adding --tls-client-ca
makes it mutual TLS (clients must present a certificate that CA signed).

Signature requests are signed for real by a --federation-threshold of
--federation-size keys derived from --federation-seed (mock_governance.federation).

Logs go to stderr. SIGTERM or SIGINT stops it gracefully with exit status 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mock_governance.auth import AUTH_TYPES, DEFAULT_MAX_SKEW_S, AuthPolicy
from mock_governance.errors import MockStartupError
from mock_governance.multisig import MAX_KEYS, SCRIPT_TYPES
from mock_governance.server import MockConfig, MockGovernanceServer, TlsFiles
from runtime.processes import ParentGoneError, die_with_parent

logger = logging.getLogger("mock-governance")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mock-governance",
        description="Mock Anduro Governance server (gRPC governance.v1) on 127.0.0.1, "
        "with an HTTP/JSON control interface.",
    )
    parser.add_argument("--port", type=int, default=50051, help="gRPC port (0: any free port)")
    parser.add_argument(
        "--control-port", type=int, default=50052, help="control HTTP port (0: any free port)"
    )
    parser.add_argument(
        "--federation-seed",
        default="local-dev",
        help="seed of the test keys: federation members and governance's update-signing key",
    )
    parser.add_argument(
        "--federation-size",
        type=_positive_int,
        default=5,
        help=f"members the mock signs with: derived keys 0..N-1 (1 to {MAX_KEYS}); default 5",
    )
    parser.add_argument(
        "--federation-threshold",
        type=_positive_int,
        default=3,
        help="signatures per input (m of the m-of-n multisig), 1 to --federation-size; default 3",
    )
    parser.add_argument(
        "--federation-script-type",
        choices=SCRIPT_TYPES,
        default="p2wsh",
        help="p2wsh (ECDSA, OP_CHECKMULTISIG) or p2tr (Schnorr, a tapscript leaf); "
        "default p2wsh",
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM server certificate: serve TLS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca",
        type=Path,
        help="PEM CA: require client certificates it signed (mutual TLS)",
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="exit when the parent process dies, or at once if it already has (Linux)",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="with --exit-with-parent: the pid the parent must have (closes the race "
        "of a parent dying before this process starts); default: the parent at startup",
    )
    parser.add_argument(
        "--auth-type",
        choices=AUTH_TYPES,
        default="none",
        help="what a node must present (docs/protocol.md, conventions 2 and 9); default none",
    )
    parser.add_argument(
        "--auth-credential-file",
        type=Path,
        action="append",
        default=[],
        help="bearer/api_key: a file holding one accepted credential (repeat for more)",
    )
    parser.add_argument(
        "--auth-public-key",
        action="append",
        default=[],
        help="signature: an enrolled node key, compressed hex (repeat; none: any key)",
    )
    parser.add_argument(
        "--auth-max-skew-s",
        type=_positive_int,
        default=DEFAULT_MAX_SKEW_S,
        help=f"signature: how far a timestamp may be from now; default {DEFAULT_MAX_SKEW_S}",
    )
    parser.add_argument(
        "--session-ttl-s",
        type=_positive_int,
        default=None,
        help="grant session tokens with expires_at this far ahead; default: no expiry",
    )
    parser.add_argument("--log-level", default="INFO", help="stderr log level")
    args = parser.parse_args(argv)
    if args.auth_type in ("bearer", "api_key") and not args.auth_credential_file:
        parser.error(f"--auth-type {args.auth_type} needs --auth-credential-file")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca is not None and args.tls_cert is None:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    if args.federation_size > MAX_KEYS:
        parser.error(f"--federation-size is at most {MAX_KEYS}, got {args.federation_size}")
    if args.federation_threshold > args.federation_size:
        parser.error(
            f"--federation-threshold {args.federation_threshold} is more than "
            f"--federation-size {args.federation_size}"
        )
    return args


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _auth(args: argparse.Namespace) -> AuthPolicy:
    credentials = []
    for path in args.auth_credential_file:
        try:
            credentials.append(path.read_text(encoding="utf-8").strip())
        except OSError as error:
            raise MockStartupError(f"cannot read {path}: {error}") from error
    return AuthPolicy(args.auth_type, tuple(credentials), tuple(args.auth_public_key),
                      args.auth_max_skew_s, args.session_ttl_s)


def _tls(args: argparse.Namespace) -> TlsFiles | None:
    if args.tls_cert is None:
        return None
    return TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def main(argv: Sequence[str] | None = None) -> int:
    parent_at_start = os.getppid()  # first thing: the later we look, the wider the race
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s",
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        if args.exit_with_parent:
            # SIGTERM, not SIGKILL: the server then stops as on any other SIGTERM.
            die_with_parent(args.parent_pid or parent_at_start, signal.SIGTERM)
        server = MockGovernanceServer(
            MockConfig(
                port=args.port,
                control_port=args.control_port,
                federation_seed=args.federation_seed,
                federation_size=args.federation_size,
                federation_threshold=args.federation_threshold,
                federation_script_type=args.federation_script_type,
                tls=_tls(args),
                auth=_auth(args),
            )
        )
        listening = server.start()
    except ParentGoneError as error:
        logger.info("exiting: %s", error)
        return 0
    except (MockStartupError, OSError) as error:
        logger.error("cannot start: %s", error)
        return 2
    print(listening.ready_line(), flush=True)
    stop.wait()
    server.stop()
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
