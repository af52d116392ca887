"""The peg-out table's keys and its CPU columns: what a phase cost, and how busy it left
the CPUs."""

from __future__ import annotations

import os
import subprocess
import time
from typing import cast

import pytest

from bench.cpu import CpuMeter, CpuUse, metered
from bench.pegouts.bridge import Client, Outcome, meter_of
from bench.pegouts.figures import (
    PegoutFigures,
    PegoutPlan,
    figure_key,
    latency_keys,
    print_table,
)
from bench.pegouts.phases import Metering, PhaseRun, phase, put_cpu

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


def test_the_meter_reads_the_actors_that_have_a_pid_the_mock_and_this_process() -> None:
    with subprocess.Popen(["sleep", "30"]) as actor:
        try:
            meter = meter_of({"bridge": actor.pid, "chain": None}, mock_pid=os.getppid())
            meter.start()
            assert set(meter.stop()) == {"bridge", "mock", "benchmark"}
        finally:
            actor.kill()


class _Node:
    """A node that answers every ping at once and gives the pids it is told to."""

    def __init__(self, pids: list[dict[str, int | None]]) -> None:
        self._pids = pids  # one answer per call of `pids()`

    def ping(self, name: str) -> float:
        return 0.0

    def pids(self) -> dict[str, int | None]:
        return self._pids.pop(0)


class _Client:
    def __init__(self, node: _Node) -> None:
        self.node = node

    def open_count(self) -> int:
        return 0

    def drain(self, seconds: float) -> None:
        pass


def _phase(pids: list[dict[str, int | None]]) -> tuple[PegoutFigures, PhaseRun]:
    figures = PegoutFigures(PegoutPlan())
    client = cast(Client, _Client(_Node(pids)))
    with phase(figures, client, "rate 100/s", Metering(mock_pid=os.getppid(), cpus=1)) as ran:
        deadline = time.process_time() + 0.05
        while time.process_time() < deadline:
            pass  # the load: this process is metered as the benchmark
    return figures, ran


ALL: dict[str, int | None] = {"bridge": os.getpid(), "stream": os.getpid(),
                              "storage": os.getpid(), "chain": os.getpid()}


def test_a_phase_meters_its_load_and_notes_who_restarted() -> None:
    figures, ran = _phase([ALL, ALL])
    assert ran.restarted == [] and ran.cpu_problem is None
    assert ran.cpu is not None and ran.cpu.used["benchmark"] >= 0.03
    moved = {**ALL, "chain": os.getppid()}
    figures, ran = _phase([ALL, moved])
    assert ran.restarted == ["chain"] and figures.restarts == {"rate 100/s": ["chain"]}


def test_a_phase_without_every_workers_pid_has_no_cpu_figure() -> None:
    _, ran = _phase([{**ALL, "storage": None}, ALL])
    assert ran.cpu is None
    assert ran.cpu_problem == "the node gave no pid for storage"
    _, ran = _phase([{}, {}])  # the node did not answer at all
    assert ran.cpu is None and ran.cpu_problem is not None


def _ran(cpu: CpuUse | None = None, problem: str | None = None,
         restarted: tuple[str, ...] = ()) -> PhaseRun:
    return PhaseRun(restarted=list(restarted), cpu=cpu, cpu_problem=problem)


USE = CpuUse({"bridge": 0.5}, wall_s=1.0, cpus=1)
FINE = Outcome([7.0, 8.0], None)


def test_the_cpu_figures_are_per_pegout_and_a_share_of_the_cpus() -> None:
    figures = PegoutFigures(PegoutPlan())
    put_cpu(figures, "single", _ran(USE), 50, FINE)
    assert figures.values["single_cpu_ms"] == 10.0
    assert figures.values["single_busy_pct"] == 50.0
    put_cpu(figures, "@100", _ran(CpuUse({"bridge": 0.1234}, 1.0, 1)), 100, FINE)
    assert figures.values["cpu_ms_at_100"] == 1.23  # two decimals survive the median


@pytest.mark.parametrize(("ran", "outcome", "reason"), [
    (_ran(USE, restarted=("bridge",)), FINE, "restarted during this phase: bridge"),
    (_ran(USE), Outcome([7.0], "12 of 100 peg-outs refused"), "12 of 100 peg-outs refused"),
    (_ran(USE), Outcome([], None), "no peg-out was sent"),
    (_ran(problem="the node gave no pid for chain"), FINE, "the node gave no pid for chain"),
])
def test_the_cpu_figures_are_unmeasured_wherever_the_latencies_are(
        ran: PhaseRun, outcome: Outcome, reason: str) -> None:
    figures = PegoutFigures(PegoutPlan())
    put_cpu(figures, "@100", ran, 100, outcome)
    for key in ("cpu_ms_at_100", "busy_pct_at_100"):
        assert figures.values[key] is None
        assert figures.null_reasons[key].startswith(reason)


def test_a_phase_that_was_not_metered_has_no_cpu_figures() -> None:
    figures = PegoutFigures(PegoutPlan())
    put_cpu(figures, "single", _ran(), 50, FINE)
    assert figures.values == {} and figures.null_reasons == {}


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
    assert single.split()[-5:] == ["7.1", "9.0", "9.5", "7.40", "11%"]
    rate = next(line for line in lines if line.startswith("100/s for"))
    assert rate.split()[-5:] == ["8.2", "17.9", "36.9", "7.30", "76%"]
    burst = next(line for line in lines if line.startswith("20 at once"))
    assert burst.split()[-5:] == ["n/a"] * 5  # nothing measured for that row
