"""The peg-out table's keys and its CPU columns: what a phase cost, and how busy it left
the CPUs."""

from __future__ import annotations

import os
import time

import pytest

from bench.cpu import CpuMeter, CpuUse, metered
from bench.pegouts.figures import (
    PegoutFigures,
    PegoutPlan,
    figure_key,
    latency_keys,
    print_table,
)
from bench.pegouts.phases import Metering, put_cpu

pytestmark = pytest.mark.timeout(30)

SETTINGS = {"federation": "3-of-5", "script_type": "p2wsh", "inputs_per_pegout": 2,
            "signatures_per_pegout": 6, "sqlite": "WAL, synchronous=FULL",
            "broadcaster": "spool", "spool": "fsync per append", "log_level": "INFO"}


@pytest.mark.parametrize(("tag", "name", "key"), [
    ("single", "p50_ms", "single_p50_ms"),
    ("burst", "cpu_ms", "burst_cpu_ms"),
    ("burst_10000", "busy_pct", "burst_10000_busy_pct"),
    ("@100", "p99_ms", "p99_ms_at_100"),
    ("@2.5", "cpu_ms", "cpu_ms_at_2.5"),
    ("pad512", "max_ms", "max_ms_pad512"),
])
def test_each_row_names_its_figures_as_the_json_has_them(tag: str, name: str, key: str) -> None:
    assert figure_key(tag, name) == key


def test_the_latency_keys_of_a_row_are_its_p50_p99_and_max() -> None:
    assert latency_keys("@100") == ("p50_ms_at_100", "p99_ms_at_100", "max_ms_at_100")
    assert latency_keys("single") == ("single_p50_ms", "single_p99_ms", "single_max_ms")


def test_a_phase_cost_is_all_processes_per_pegout_and_a_share_of_the_cpus() -> None:
    use = CpuUse({"bridge": 0.3, "storage": 0.2, "mock": 0.1}, wall_s=2.0, cpus=2)
    assert use.ms_per_pegout(100) == pytest.approx(6.0)
    assert use.busy_pct() == pytest.approx(15.0)
    assert use.ms_per_pegout(0) is None
    assert CpuUse({}, 1.0, 1).ms_per_pegout(10) is None
    assert CpuUse({"bridge": 0.1}, 0.0, 1).busy_pct() is None


def test_metered_holds_the_cost_of_the_block_once_it_is_done() -> None:
    meter = CpuMeter({"me": os.getpid()})
    with metered(meter, cpus=3) as use:
        assert use == []  # filled only at the end
        deadline = time.process_time() + 0.1
        while time.process_time() < deadline:
            pass
    (cost,) = use
    assert cost.cpus == 3
    assert cost.used["me"] >= 0.05
    assert cost.wall_s >= cost.used["me"] * 0.5


def test_a_phase_meters_the_actors_it_found_the_mock_and_this_process() -> None:
    gone = 2**22 + 12345  # past Linux's largest pid: no such process
    meter = Metering(mock_pid=gone + 1, cpus=1).meter({"bridge": gone, "chain": None})
    meter.start()  # the made-up pids are not there: only this process is read
    assert set(meter.stop()) == {"benchmark"}


def test_a_restart_during_the_phase_leaves_its_cpu_figures_unmeasured() -> None:
    figures = PegoutFigures(PegoutPlan())
    use = CpuUse({"bridge": 0.5}, wall_s=1.0, cpus=1)
    put_cpu(figures, "@100", use, 100, restarted=["bridge"])
    assert figures.values["cpu_ms_at_100"] is None
    assert "restarted during this phase: bridge" in figures.null_reasons["busy_pct_at_100"]
    put_cpu(figures, "single", use, 50, restarted=[])
    assert figures.values["single_cpu_ms"] == 10.0
    assert figures.values["single_busy_pct"] == 50.0


def test_the_table_prints_each_rows_cpu_beside_its_latency(
        capsys: pytest.CaptureFixture[str]) -> None:
    figures = PegoutFigures(PegoutPlan(singles=5, burst=20, rates=(100.0,)), settings=SETTINGS)
    for key, value in {"single_p50_ms": 7.1, "single_p99_ms": 9.0, "single_max_ms": 9.5,
                       "single_cpu_ms": 7.4, "single_busy_pct": 11.0,
                       "p50_ms_at_100": 8.2, "p99_ms_at_100": 17.9, "max_ms_at_100": 36.9,
                       "cpu_ms_at_100": 7.3, "busy_pct_at_100": 76.4}.items():
        figures.put(key, value)
    print_table(figures)
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("load"))
    assert header.split()[-6:] == ["ms", "CPU", "ms", "busy", "p99", "spread"]
    single = next(line for line in lines if line.startswith("one at a time (5)"))
    assert single.split()[-5:] == ["7.1", "9.0", "9.5", "7.4", "11%"]
    rate = next(line for line in lines if line.startswith("100/s for"))
    assert rate.split()[-5:] == ["8.2", "17.9", "36.9", "7.3", "76%"]
    burst = next(line for line in lines if line.startswith("20 at once"))
    assert burst.split()[-5:] == ["n/a"] * 5  # nothing measured for that row
