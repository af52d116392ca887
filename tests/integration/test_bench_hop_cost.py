"""`python -m bench.hop_cost` end to end with a short volley; its figures are not judged."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.hop_cost import IDLE_LISTENS_S, measure, report
from harness.mock import REPO_ROOT, project_env
from harness.nodes import assert_session_gone

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def test_the_hop_cost_is_measured_and_the_actor_system_leaves_nothing() -> None:
    cost = measure(300)
    assert cost.hops == 300 and cost.wall_us_per_hop > 0 and cost.cpu_us_per_hop > 0
    assert cost.tell_cpu_us >= 0 and set(cost.idle_listen_cpu_us) == set(IDLE_LISTENS_S)
    assert "300 hops" in report(cost)[0] and "50 ms" in report(cost)[1]
    # Thespian's admin leaves this process's tree for a session of its own: that session
    # must be empty once the measurement is done.
    assert_session_gone(cost.session)
    assert "grpc" not in sys.modules  # the system forked from this process


def test_fewer_than_two_hops_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.hop_cost", "--hops", "1"],
                          cwd=REPO_ROOT, env=project_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and "--hops must be at least 2" in done.stderr
