"""`scripts/ctl`'s entry: parse, read the config, ask the node, print, exit."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from client import ClientError, connect
from client.ctl.args import parse
from client.ctl.commands import Done, Outcome, Refused, run
from client.ctl.submit import SubmitFileError, read_request
from nodeconfig import ConfigError, load_config

EXIT_OK = 0
EXIT_REFUSED = 1  # the node answered no
EXIT_USAGE = 2  # argparse's own code, also for a config or request file that cannot be used
EXIT_UNREACHABLE = 3  # no node, no secret, no answer
PROG = "alys-ctl"


def main(argv: list[str] | None = None, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    args = parse(argv)  # exits 2 on a usage error
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{PROG}: config error: {exc}", file=err)
        return EXIT_USAGE
    try:
        # Read before the node is looked for: a file that cannot be used is a usage
        # error whether or not a node runs, and stdin is read once.
        if args.command == "pegouts" and args.action == "submit":
            args.request = read_request(args.file)
    except SubmitFileError as exc:
        print(f"{PROG}: {exc}", file=err)
        return EXIT_USAGE
    try:
        with connect(config) as node:
            outcome = run(args, node)
    except ClientError as exc:
        print(f"{PROG}: cannot reach the node: {exc}", file=err)
        return EXIT_UNREACHABLE
    return report(outcome, as_json=args.json, out=out, err=err)


def report(outcome: Outcome, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    """Print `outcome` (on stdout when done, on stderr when refused); its exit code."""
    if isinstance(outcome, Done):
        print(_json(outcome.data) if as_json else outcome.text, file=out)
        if outcome.warning is not None:
            print(f"warning: {outcome.warning}", file=err)
        return EXIT_OK
    assert isinstance(outcome, Refused)
    if as_json:
        print(_json({"error": {"code": outcome.code, "message": outcome.message},
                     "reply": outcome.data}), file=err)
    else:
        print(f"error code: {outcome.code}\nerror message:\n{outcome.message}", file=err)
    return EXIT_REFUSED


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False)
