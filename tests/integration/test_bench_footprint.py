"""The footprint benchmark runs end to end with tiny numbers; its figures are not judged.

Start-up and memory both run `scripts/start` for real: what is checked is that every
figure is there and positive, every role of the node was found, and nothing is left
behind afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.footprint import ADMIN, LAUNCHER, LOGGER, MOCK, memory, print_footprint, startup_times
from harness.nodes import descendants
from harness.waiting import wait_until
from supervision.tree import actor_names

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def test_footprint_measures_startup_and_every_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = descendants()

    startup = startup_times(runs=1)
    assert len(startup["runs"]) == 1 and startup["runs"][0] > 0
    assert startup["p50_s"] == startup["runs"][0]
    assert startup["spread"] == [startup["runs"][0]] * 2
    assert startup["tree_p50_s"] is not None and startup["tree_p50_s"] > 0

    figures = memory(tmp_path / "memory", load_pegouts=100)
    roles = figures["by_role"]
    assert set(roles) == {LAUNCHER, MOCK, ADMIN, LOGGER, *actor_names()}, sorted(roles)
    for role, row in roles.items():
        for key in ("idle_rss_mb", "idle_uss_mb", "idle_pss_mb", "load_rss_mb_max",
                    "load_uss_mb_max", "after_rss_mb", "after_uss_mb"):
            assert isinstance(row[key], float) and row[key] > 0, (role, key, row[key])
        assert row["growth_rss_mb"] is not None or role in figures["restarted"], (role, row)
    assert len({row["pid"] for row in roles.values()}) == len(roles)
    assert figures["idle_rss_mb_max_role"] in actor_names()
    assert figures["idle_rss_mb_max"] == roles[figures["idle_rss_mb_max_role"]]["idle_rss_mb"]
    assert figures["idle_uss_mb_max"] > 0 and figures["idle_pss_mb_total"] > 0
    assert figures["load"]["problem"] is None and figures["load"]["spooled"] == 100
    assert figures["load"]["samples"] > 0

    print_footprint({"startup": startup, "memory": figures})
    text = capsys.readouterr().out
    assert "start-up: scripts/start" in text and "stream" in text, text

    # Each run proves its own node gone; this is the test's own look at what remains.
    wait_until(lambda: not (descendants() - before), timeout=20,
               message="the footprint benchmark left processes behind")
    # The benchmark process only attaches to the node: it must never load gRPC.
    assert "grpc" not in sys.modules
