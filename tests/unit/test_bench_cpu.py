"""CPU per peg-out: the meter on a real process, and the line `bench.tail` prints."""

from __future__ import annotations

import os
import time

from bench.cpu import CpuMeter, cpu_seconds, per_pegout


def test_the_meter_sees_this_process_work_and_forgets_a_process_that_is_gone() -> None:
    meter = CpuMeter({"me": os.getpid(), "gone": 2**22 + 12345})
    meter.start()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass  # burn 0.2 s of CPU
    used = meter.stop()
    assert set(used) == {"me"}
    assert used["me"] >= 0.15
    assert cpu_seconds(2**22 + 12345) is None


def test_the_line_gives_each_process_per_pegout_and_how_busy_the_cpus_were() -> None:
    line = per_pegout({"bridge": 0.34, "storage": 0.18}, pegouts=100, wall_s=1.0, cpus=1)
    assert line == ("CPU per peg-out, ms: bridge 3.40, storage 1.80; total 5.20 "
                    "(the 1 CPU 52 % busy)")
    assert per_pegout({}, 100, 1.0, 2) == "CPU per peg-out: not measured"
