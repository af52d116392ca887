"""The peg-out benchmarks' figures: what is planned, what each run measured, the table.

Each figure is the median of the runs, with their spread; a figure that one
run could not measure is None, with the reason in `null_reasons`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from bench.pegouts.load import BURST_BATCH


@dataclass(frozen=True)
class PegoutPlan:
    singles: int = 50
    burst: int = 1000
    rates: tuple[float, ...] = (10.0, 100.0, 300.0)
    rate_seconds: float = 5.0
    runs: int = 1  # each figure is the median of this many runs, with their spread
    # Growth: latency at `growth_rate` with transactions padded by these many bytes,
    # and bursts of these many peg-outs in flight at once.
    paddings: tuple[int, ...] = ()
    growth_rate: float = 100.0
    bursts: tuple[int, ...] = ()
    script_type: str = "p2wsh"  # the federation's: ECDSA (p2wsh) or Schnorr (p2tr) signatures
    tracing_endpoint: str | None = None  # an OTLP/HTTP URL: every peg-out traced to it


@dataclass
class PegoutFigures:
    plan: PegoutPlan
    values: dict[str, float | int | None] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    null_reasons: dict[str, str] = field(default_factory=dict)
    restarts: dict[str, list[str]] = field(default_factory=dict)  # phase -> restarted actors

    runs: dict[str, list[float | int | None]] = field(default_factory=dict)

    def put(self, key: str, value: float | int | None, reason: str | None = None,
            digits: int = 1) -> None:
        """One run's figure; the value kept is the median of the runs so far (to `digits`
        decimals), or None (with the reason) as soon as one run could not measure it."""
        runs = self.runs.setdefault(key, [])
        runs.append(value)
        if value is None:
            self.null_reasons[key] = reason or "not measured"
        if key in self.null_reasons:
            self.values[key] = None
            return
        measured = [v for v in runs if v is not None]
        self.values[key] = round(statistics.median(measured), digits)

    def spread(self, key: str) -> list[float] | None:
        measured = [v for v in self.runs.get(key, []) if v is not None]
        return [min(measured), max(measured)] if len(measured) > 1 else None

    def as_json(self) -> dict[str, Any]:
        return {**self.values, "settings": dict(self.settings),
                "spread": {k: s for k in self.values if (s := self.spread(k)) is not None},
                "null_reasons": dict(self.null_reasons),
                "restarts": {phase: list(names) for phase, names in self.restarts.items()}}


def rate_key(rate: float) -> str:
    return f"{rate:g}"


# -- output -----------------------------------------------------------------------------


def _ms(value: float | int | None) -> str:
    return f"{value:>8.1f}" if value is not None else f"{'n/a':>8}"


def _cpu_ms(value: float | int | None) -> str:
    return f"{value:>7.2f}" if value is not None else f"{'n/a':>7}"


def _busy(value: float | int | None) -> str:
    return f"{value:>4.0f}%" if value is not None else f"{'n/a':>5}"


def _rate(value: float | int | None) -> str:
    return f"{value:,.1f}" if value is not None else "n/a"


def print_table(figures: PegoutFigures) -> None:
    plan, values, settings = figures.plan, figures.values, figures.settings
    print(f"peg-outs end to end: InitiatePegout -> txid fsynced in the spool "
          f"({settings['federation']} {settings['script_type']} federation, "
          f"{settings['inputs_per_pegout']} inputs: "
          f"{settings['signatures_per_pegout']} signatures made by the mock and verified "
          f"by the bridge; SQLite {settings['sqlite']}; {settings['broadcaster']} "
          f"{settings['spool']}; log level {settings['log_level']}; median of {plan.runs} "
          f"run(s), spread of the p99 in brackets)")
    print(f"{'load':<38} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms':>7} {'busy':>5}"
          f"  p99 spread")
    rows = [(f"one at a time ({plan.singles})", "single"),
            (f"{plan.burst:,} at once (Batches of {BURST_BATCH})", "burst")]
    for rate in plan.rates:
        key = rate_key(rate)
        sent = values.get(f"sent_per_s_at_{key}")
        rows.append((f"{key}/s for {plan.rate_seconds:g} s (sent {_rate(sent)}/s)", f"@{key}"))
    for padding in plan.paddings:
        size = values.get(f"tx_bytes_pad{padding}")
        rows.append((f"{plan.growth_rate:g}/s, {size} B transactions", f"pad{padding}"))
    for count in plan.bursts:
        rows.append((f"{count:,} in flight at once", f"burst_{count}"))
    for label, tag in rows:
        keys = latency_keys(tag)
        spread = figures.spread(keys[1])
        text = f"[{spread[0]:.0f}, {spread[1]:.0f}]" if spread else ""
        print(f"{label:<38} " + " ".join(_ms(values.get(key)) for key in keys)
              + f" {_cpu_ms(values.get(figure_key(tag, 'cpu_ms')))}"
              + f" {_busy(values.get(figure_key(tag, 'busy_pct')))}  {text}")
    print("  CPU ms: CPU per peg-out over the phase, every process together (the node's "
          "actors, the mock, this benchmark); busy: that CPU as a share of the CPUs the run "
          "may use (other work on the machine is not in it)")
    print(f"  {plan.burst:,} at once: {_rate(values.get('completed_per_s'))} peg-outs/s "
          f"completed; " + "; ".join(
              f"{count:,} in flight: {_rate(values.get(f'completed_per_s_{count}'))}/s"
              for count in plan.bursts))
    print(f"  highest offered rate with p99 under 200 ms: "
          f"{_rate(max_rate_under(figures, 200.0))} peg-outs/s; txids spooled more than once: "
          f"{values.get('spool_duplicates')}; sent again after a restart: "
          f"{values.get('resent_after_restart')}")
    for name, actors in figures.restarts.items():
        print(f"  restarted during '{name}': {', '.join(actors)}")
    for key, reason in figures.null_reasons.items():
        print(f"  {key}: not measured: {reason}")


def figure_key(tag: str, name: str) -> str:
    """The key of figure `name` (p50_ms, p99_ms, max_ms, cpu_ms, busy_pct) of a table row:
    `single`, `burst`, `burst_<count>`, `@<rate>` or `pad<bytes>`."""
    if tag.startswith("@"):
        return f"{name}_at_{tag[1:]}"
    if tag.startswith("pad"):
        return f"{name}_{tag}"
    return f"{tag}_{name}"


def latency_keys(tag: str) -> tuple[str, str, str]:
    return (figure_key(tag, "p50_ms"), figure_key(tag, "p99_ms"), figure_key(tag, "max_ms"))


def max_rate_under(figures: PegoutFigures, p99_ms: float) -> float | None:
    """The highest offered rate whose p99 stayed under `p99_ms` (None if none did)."""
    passing = [rate for rate in figures.plan.rates
               if (p99 := figures.values.get(f"p99_ms_at_{rate_key(rate)}")) is not None
               and p99 < p99_ms]
    return max(passing) if passing else None
