"""Each `scripts/ctl` command: the asks it makes of the node, and what comes of them.

A command returns `Done` (what to print) or `Refused` (the node said no: a kind for
`error code:` and its words for `error message:`). Errors of the client library
(`ClientError`: no node, no reply) pass through to `main`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from actors.messages import UNKNOWN_PEGOUT, PegoutRejected
from client.contract import NodeClient
from client.ctl import render
from client.errors import NoReply


@dataclass(frozen=True)
class Done:
    data: Any  # for --json
    text: str  # for people
    # Done, but not all of it: said on stderr (a listing missing what storage could not read).
    warning: str | None = None


@dataclass(frozen=True)
class Refused:
    code: str  # a refusal kind (`draining`, `unknown_pegout`, `invalid_config`...)
    message: str
    data: Any = None  # the node's reply, for --json


Outcome = Done | Refused


def run(args: argparse.Namespace, node: NodeClient) -> Outcome:
    command = args.command if args.command in ("pegouts", "federation") else None
    if command is None:
        return _SIMPLE[args.command](args, node)
    return _ACTIONS[(command, args.action)](args, node)


def _status(args: argparse.Namespace, node: NodeClient) -> Outcome:
    report = node.node_status()
    try:
        drain = node.drain_state()
    except NoReply:
        drain = None  # the bridge is restarting: the rest of the status still says so
    data = {**render.plain(report), "drain": render.plain(drain)}
    return Done(data, render.status_text(report, drain))


def _list(args: argparse.Namespace, node: NodeClient) -> Outcome:
    listing = node.pegout_listing(args.state, limit=args.limit)
    if listing.error is not None and not listing.items:
        return Refused("storage", listing.error, render.plain(listing))
    return Done(render.plain(listing.items), render.pegouts_text(listing.items),
                warning=listing.error)


def _show(args: argparse.Namespace, node: NodeClient) -> Outcome:
    status = node.pegout_status(args.id)
    if status.state == UNKNOWN_PEGOUT:
        return Refused("unknown_pegout", f"no peg-out {args.id!r}", render.plain(status))
    return Done(render.plain(status), render.pegout_text(status))


def _pegout_answer(reply: object, done: str) -> Outcome:
    if isinstance(reply, PegoutRejected):
        return Refused(reply.kind or "rejected", reply.reason, render.plain(reply))
    return Done(render.plain(reply), done)


def _submit(args: argparse.Namespace, node: NodeClient) -> Outcome:
    request = args.request  # read by `main` before the node was looked for
    return _pegout_answer(node.submit_pegout(request),
                          f"accepted {request.request_id}: awaiting signatures")


def _retry(args: argparse.Namespace, node: NodeClient) -> Outcome:
    return _pegout_answer(node.retry_pegout(args.id),
                          f"retrying {args.id}: awaiting signatures")


def _resolve(args: argparse.Namespace, node: NodeClient) -> Outcome:
    reply = node.resolve_pegout(args.id, args.outcome)
    state = getattr(reply, "state", "")
    return _pegout_answer(reply, f"resolved {args.id} as {args.outcome}: now {state}")


def _federation(args: argparse.Namespace, node: NodeClient) -> Outcome:
    chain = node.chain_status()
    return Done(render.plain(chain), render.federation_text(chain))


def _history(args: argparse.Namespace, node: NodeClient) -> Outcome:
    history = node.federation_history(args.limit)
    if history.error is not None:
        return Refused("storage", history.error, render.plain(history))
    return Done(render.plain(history.items), render.history_text(history.items))


def _drain(args: argparse.Namespace, node: NodeClient) -> Outcome:
    state = node.drain(args.reason)
    if state.refused is not None:
        return Refused("invalid_reason", state.refused, render.plain(state))
    return Done(render.plain(state), render.drain_text(state))


def _undrain(args: argparse.Namespace, node: NodeClient) -> Outcome:
    state = node.undrain()
    return Done(render.plain(state), render.drain_text(state))


def _reload(args: argparse.Namespace, node: NodeClient) -> Outcome:
    reply = node.reload_config()
    if reply.refused is not None:
        code = "restart_needed" if reply.restart_needed else "invalid_config"
        return Refused(code, reply.refused, render.plain(reply))
    return Done(render.plain(reply), render.reload_text(reply))


_SIMPLE = {"status": _status, "drain": _drain, "undrain": _undrain, "reload": _reload}
_ACTIONS = {
    ("pegouts", "list"): _list, ("pegouts", "show"): _show, ("pegouts", "submit"): _submit,
    ("pegouts", "retry"): _retry, ("pegouts", "resolve"): _resolve,
    ("federation", "show"): _federation, ("federation", "history"): _history,
}
