"""The recovery benchmark's measurement works on a real node (the figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.recovery import measure, percentile
from harness.nodes import running_node

pytestmark = pytest.mark.timeout(120)


def test_recovery_is_measured_for_a_worker_and_a_supervisor(tmp_path: Path) -> None:
    with running_node(tmp_path) as node:
        stats = measure(node, ("stream", "system_supervisor"), kills=2)
        report = node.client.node_status()
    assert [s.actor for s in stats] == ["stream", "system_supervisor"]
    assert all(0 < s.p50_ms <= s.max_ms for s in stats)
    restarts = {a.name: a.restarts for a in report.actors}
    # the stream's own count started again in the new system_supervisor's fresh subtree
    assert restarts["system_supervisor"] == 2 and restarts["stream"] == 0


def test_percentile_picks_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) in (50.0, 51.0)
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
