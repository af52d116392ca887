"""What `scripts/ctl` prints: each reply as text for people, or as JSON for machines.

JSON is the reply's fields as they are (dataclasses as objects, times as Unix
seconds); text is one line per item, times in UTC. Both say the same things.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from actors.messages import (
    ChainStatus,
    ConfigReloaded,
    DrainState,
    FederationVersion,
    NodeStatusReport,
    PegoutStatus,
)


def plain(value: Any) -> Any:
    """A reply as JSON-ready data: dataclasses become objects, tuples lists, bytes hex."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name))
                for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def utc(at_s: float | None) -> str:
    if at_s is None:
        return "-"
    return datetime.fromtimestamp(at_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_text(report: NodeStatusReport, drain: DrainState | None) -> str:
    lines = [f"node {report.node_id}", "",
             f"{'actor':<20} {'pid':>7} {'state':<11} {'restarts':>8} {'uptime_s':>10}  "
             "supervisor"]
    for actor in report.actors:
        lines.append(f"{actor.name:<20} {actor.pid or '-':>7} {actor.state:<11} "
                     f"{actor.restarts:>8} {actor.uptime_s:>10.1f}  {actor.supervisor}")
    stream = report.stream
    lines.append("")
    lines.append("stream: no answer" if stream is None else
                 f"stream: {stream.state} endpoint={stream.endpoint or '-'} "
                 f"circuit={stream.circuit} pending={stream.pending} "
                 f"buffered={stream.buffered} reconnects={stream.reconnects}")
    lines.append(drain_text(drain) if drain is not None else "pegouts: the bridge did not answer")
    return "\n".join(lines)


def drain_text(state: DrainState) -> str:
    if not state.drained:
        return f"pegouts: accepting new peg-outs ({state.open_pegouts} open)"
    return (f"pegouts: DRAINED since {utc(state.since)} "
            f"({state.reason or 'no reason given'}); new peg-outs are refused, "
            f"{state.open_pegouts} open ones go on")


def pegout_line(status: PegoutStatus) -> str:
    return (f"{status.request_id:<24} {status.state:<20} {status.txid or '-':<64} "
            f"{status.attempts:>3} {status.payout_sat:>14} {status.fee_sat:>9}")


def pegouts_text(items: Iterable[PegoutStatus]) -> str:
    header = (f"{'request_id':<24} {'state':<20} {'txid':<64} {'att':>3} "
              f"{'payout_sat':>14} {'fee_sat':>9}")
    rows = [pegout_line(item) for item in items]
    return "\n".join([header, *rows] if rows else [header, "(none)"])


def pegout_text(status: PegoutStatus) -> str:
    fields = plain(status)
    fields["resolved_at"] = utc(status.resolved_at) if status.resolved_at else None
    return "\n".join(f"{name}: {'-' if value is None else value}"
                     for name, value in fields.items())


def federation_text(chain: ChainStatus) -> str:
    if chain.federation_version is None:
        return f"height {chain.height}: no federation yet"
    lines = [f"federation version {chain.federation_version}: {chain.threshold}-of-"
             f"{len(chain.members)} {chain.script_type or 'p2wsh'} at {chain.federation_address}"
             f"{' (EMERGENCY HALT)' if chain.halted else ''}",
             f"height {chain.height}", "members:", *(f"  {key}" for key in chain.members)]
    lines += [f"scheduled: version {version} at height {height}"
              for version, height in chain.scheduled]
    return "\n".join(lines)


def history_text(items: Iterable[FederationVersion]) -> str:
    rows = [f"{item.version:>7} {item.state:<9} {item.update_type:<14} "
            f"{item.threshold}-of-{len(item.members):<3} {item.script_type:<6} "
            f"{item.effective_height:>10} "
            f"{utc(item.recorded_at)} {item.address}{' HALT' if item.halted else ''}"
            for item in items]
    header = (f"{'version':>7} {'state':<9} {'update_type':<14} {'m-of-n':<7} {'type':<6} "
              f"{'height':>10} {'recorded_at':<20} address")
    return "\n".join([header, *rows] if rows else [header, "(none)"])


def reload_text(reply: ConfigReloaded) -> str:
    if reply.applied:
        return (f"reloaded {reply.source}: now in force: {', '.join(reply.applied)}; "
                "credential files re-read")
    return f"reloaded {reply.source}: no key changed; credential files re-read"
