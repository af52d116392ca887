"""`python -m bench.hop_cost` end to end with a short volley; its figures are not judged."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from harness.mock import REPO_ROOT, project_env
from harness.nodes import descendants
from harness.waiting import wait_until

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def test_the_hop_cost_is_measured_and_nothing_is_left_behind() -> None:
    before = descendants()
    done = subprocess.run([sys.executable, "-m", "bench.hop_cost", "--hops", "300"],
                          cwd=REPO_ROOT, env=project_env(), capture_output=True, text=True,
                          timeout=100, check=False)
    assert done.returncode == 0, done.stderr
    hop = re.search(r"300 hops: (\d+) µs a hop, (\d+) µs of CPU a hop", done.stdout)
    assert hop and int(hop[1]) > 0 and int(hop[2]) > 0, done.stdout
    client = re.search(r"tell (\d+) µs of CPU; .* 2 ms: (\d+) µs, 10 ms: (\d+) µs, "
                       r"50 ms: (\d+) µs", done.stdout)
    assert client and all(int(figure) > 0 for figure in client.groups()), done.stdout
    wait_until(lambda: not (descendants() - before), timeout=10.0,
               message="the hop benchmark left processes behind")


def test_fewer_than_two_hops_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.hop_cost", "--hops", "1"],
                          cwd=REPO_ROOT, env=project_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and "--hops must be at least 2" in done.stderr
