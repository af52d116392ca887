"""The command line of `scripts/ctl`: commands, their arguments, and the options every
command takes (`--config`, `--json`, before or after the command)."""

from __future__ import annotations

import argparse

from actors.messages import NOT_PAID, PAID, PegoutState
from nodeconfig import default_config_path

# What an operator may type for a `ResolvePegout` outcome: the node's own words, and
# `failed` for `not_paid` (the state it leaves the peg-out in).
OUTCOMES = {PAID: PAID, NOT_PAID: NOT_PAID, "failed": NOT_PAID}
STATES = tuple(state.value for state in PegoutState)
MAX_HISTORY = 10_000


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_HISTORY:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_HISTORY}, got {value}")
    return value


def _common(defaults: bool) -> argparse.ArgumentParser:
    """`--config` and `--json`; a command's copy leaves the main parser's value alone
    unless given after the command."""
    common = argparse.ArgumentParser(add_help=False)
    suppress = argparse.SUPPRESS
    common.add_argument("--config", default=str(default_config_path()) if defaults else suppress,
                        help="the node's YAML config (default: configs/local.yaml)")
    common.add_argument("--json", action="store_true", default=False if defaults else suppress,
                        help="print JSON for machines")
    return common


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="scripts/ctl", parents=[_common(True)],
        description="Operate a running alys node. Exit codes: 0 done, 1 refused by the "
                    "node, 2 usage error, 3 node not reachable.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = [_common(False)]

    commands.add_parser("status", parents=shared,
                        help="actors, stream and drain state of the node")

    pegouts = commands.add_parser("pegouts", parents=shared, help="peg-outs")
    pegout = pegouts.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = pegout.add_parser("list", parents=shared, help="every peg-out, or those in a state")
    listing.add_argument("--state", choices=STATES, help="only peg-outs in this state")
    listing.add_argument("--limit", type=_limit, default=100,
                         help=f"the newest N (1 to {MAX_HISTORY}; default 100)")
    show = pegout.add_parser("show", parents=shared, help="one peg-out")
    show.add_argument("id", help="the peg-out's request id")
    submit = pegout.add_parser("submit", parents=shared,
                               help="submit a peg-out described by a JSON file (- for stdin)")
    submit.add_argument("file", help="JSON: request_id, tx_hex, input_indices, amounts, "
                                     "and optionally replaces")
    retry = pegout.add_parser("retry", parents=shared,
                              help="a new series of signing for a failed, never signed peg-out")
    retry.add_argument("id")
    resolve = pegout.add_parser("resolve", parents=shared,
                                help="an operator's verdict on a needs_review peg-out")
    resolve.add_argument("id")
    resolve.add_argument("outcome", choices=tuple(OUTCOMES),
                         help="paid (it becomes confirmed) or not_paid (failed; `failed` "
                              "means the same)")

    federation = commands.add_parser("federation", parents=shared, help="the federation")
    about = federation.add_subparsers(dest="action", required=True, metavar="ACTION")
    about.add_parser("show", parents=shared, help="the federation in force and the height")
    history = about.add_parser("history", parents=shared, help="the versions recorded")
    history.add_argument("--limit", type=_limit, default=100,
                         help=f"the newest N versions (1 to {MAX_HISTORY}; default 100)")

    drain = commands.add_parser("drain", parents=shared,
                                help="stop accepting new peg-outs (accepted ones go on)")
    drain.add_argument("--reason", default="", help="why, for the log and the refusals")
    commands.add_parser("undrain", parents=shared, help="accept new peg-outs again")
    commands.add_parser("reload", parents=shared,
                        help="re-read the config file (as SIGHUP to the launcher does)")
    return top


def parse(argv: list[str] | None) -> argparse.Namespace:
    namespace = parser().parse_args(argv)
    if getattr(namespace, "outcome", None) is not None:
        namespace.outcome = OUTCOMES[namespace.outcome]
    return namespace
