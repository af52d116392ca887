"""`scripts/start`: run one node in the foreground until Ctrl-C or SIGTERM.

SIGHUP re-reads the config file (`supervision.running.NodeRun.reload`). Under
systemd (`NOTIFY_SOCKET` set) the launcher reports READY, WATCHDOG, RELOADING and
STOPPING (`supervision.notify`; ops/systemd/alys-node.service).

In order: load the config (a bad one stops here, naming file, key and
problem); end whatever an earlier run of this node left behind, or refuse if
that run is still alive; start the local mock governance server if the config
asks for it; start the actor system and the supervisor tree; serve metrics;
print the `ready:` line; then watch the root until told to stop, and stop
everything, leaving no process behind.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from nodeconfig import ConfigError, NodeConfig, default_config_path, load_config
from runtime.rundir import make_private, prepare_metrics_dir, run_paths
from supervision.exits import EXIT_CONFIG, EXIT_FAILED, LauncherError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/start", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(default_config_path()),
                        help="YAML config (default: configs/local.yaml)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"alys-node: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    # Before the first file is written: every process of the node inherits the umask.
    make_private(config)
    paths = run_paths(config)
    paths.directory.mkdir(parents=True, exist_ok=True)
    # Before anything imports prometheus_client (see runtime.metrics).
    prepare_metrics_dir(paths.metrics_dir)
    from supervision.running import NodeRun

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run = NodeRun(config, paths, stop, launcher_log(config))

    def request_reload(signum: int, frame: FrameType | None) -> None:
        run.reload_requested.set()  # the watch loop asks the root: never from a handler

    signal.signal(signal.SIGHUP, request_reload)
    try:
        run.start()
        print(run.ready_line(), flush=True)
        return run.watch()
    except LauncherError as exc:
        print(f"alys-node: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        run.stop()


def launcher_log(config: NodeConfig) -> logging.Logger:
    """The launcher writes to the node's one log file too (lines are appended whole)."""
    from runtime.logs import NodeLogHandler

    log = logging.getLogger("alys.launcher")
    Path(config.logging.file).parent.mkdir(parents=True, exist_ok=True)
    log.addHandler(NodeLogHandler(config.logging.file, rate_limit=config.logging.rate_limit,
                                  log_format=config.logging.format))
    log.setLevel(config.logging.level)
    log.propagate = False
    return log


if __name__ == "__main__":
    sys.exit(main())
