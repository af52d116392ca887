"""`scripts/bench --only pegouts` runs end to end with tiny numbers; its figures are not judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pegouts.load import pegout_node
from btc.pegout import MAX_MONEY_SAT
from tests.support.bench import run_bench

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

LATENCY_KEYS = ("single_p50_ms", "single_p99_ms", "single_max_ms", "burst_p50_ms",
                "burst_p99_ms", "burst_max_ms", "p50_ms_at_10", "p99_ms_at_10", "max_ms_at_10",
                "p50_ms_at_40", "p99_ms_at_40", "max_ms_at_40")
# What a peg-out cost in CPU, and how busy the CPUs were, in each phase.
CPU_KEYS = ("single_cpu_ms", "single_busy_pct", "burst_cpu_ms", "burst_busy_pct",
            "cpu_ms_at_10", "busy_pct_at_10", "cpu_ms_at_40", "busy_pct_at_40")


def test_pegout_benchmark_reports_every_figure(tmp_path: Path) -> None:
    text, document = run_bench(
        tmp_path, "--only", "pegouts", "--pegouts", "20", "--pegout-singles", "5",
        "--pegout-rates", "10,40", "--pegout-seconds", "1", "--runs", "1", "--no-growth")

    figures = document["pegout"]
    # Only the figures of rates this run did not offer (100/s) may be missing.
    assert not figures["null_reasons"].keys() & {*LATENCY_KEYS, *CPU_KEYS, "completed_per_s"}, \
        figures["null_reasons"]
    for key in (*LATENCY_KEYS, *CPU_KEYS, "completed_per_s", "sent_per_s_at_10",
                "sent_per_s_at_40"):
        assert isinstance(figures[key], int | float) and figures[key] > 0, (key, figures[key])
    assert figures["spool_duplicates"] == 0
    assert figures["settings"]["federation"] == "3-of-5"
    assert "one at a time (5)" in text and "20 at once" in text, text
    assert "CPU ms" in text and "busy" in text, text


def test_the_benchmarks_node_has_an_outflow_cap_no_run_reaches(tmp_path: Path) -> None:
    # 50 BTC a day (the default) ends a long run at 1,000/s in refusals after ~50,000.
    with pegout_node(tmp_path) as (node, _mock):
        bridge = node.config.bridge
        assert bridge.outflow.max_sat == MAX_MONEY_SAT
        assert Path(bridge.broadcaster.spool_path).is_relative_to(tmp_path)
