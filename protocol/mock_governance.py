"""Run the mock governance server: ``python -m protocol.mock_governance --help``.

Once both servers listen it prints one line to stdout and flushes:

    mock-governance: ready grpc=127.0.0.1:<port> control=127.0.0.1:<control_port> pid=<pid>

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
from types import FrameType

from protocol.mock.errors import MockStartupError
from protocol.mock.server import MockConfig, MockGovernanceServer
from supervision.processes import ParentGoneError, die_with_parent

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
        "--federation-seed", default="local-dev", help="seed for the test federation's keys"
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
    parser.add_argument("--log-level", default="INFO", help="stderr log level")
    return parser.parse_args(argv)


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
