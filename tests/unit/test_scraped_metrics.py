"""What the serving process reads at scrape time: the build, each actor's process, the
disk. Real processes and a real directory; no actor system."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from harness.scrape import sample
from runtime.buildinfo import UNKNOWN, build_facts, full_object_name, git_commit
from runtime.scraped import NodeCollector


def scrape(collector: NodeCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_each_named_process_gets_its_cpu_time_and_resident_memory(tmp_path: Path) -> None:
    text = scrape(NodeCollector(lambda: [("me", os.getpid())], tmp_path))
    own = psutil.Process()
    cpu = sample(text, "alys_actor_cpu_seconds_total", {"actor": "me"})
    rss = sample(text, "alys_actor_resident_memory_bytes", {"actor": "me"})
    times = own.cpu_times()
    assert cpu is not None and 0 < cpu <= times.user + times.system
    assert rss is not None and 0.5 < rss / own.memory_info().rss < 2


def test_a_process_gone_since_the_last_report_has_no_sample(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    text = scrape(NodeCollector(lambda: [("gone", gone.pid), ("me", os.getpid())], tmp_path))
    assert sample(text, "alys_actor_cpu_seconds_total", {"actor": "gone"}) is None
    assert sample(text, "alys_actor_cpu_seconds_total", {"actor": "me"}) is not None


def test_the_disk_of_the_data_directory_is_measured(tmp_path: Path) -> None:
    text = scrape(NodeCollector(list, tmp_path))
    free = sample(text, "alys_storage_disk_free_bytes")
    size = sample(text, "alys_storage_disk_size_bytes")
    assert free is not None and size is not None and 0 < free <= size


def test_a_data_directory_not_made_yet_gives_no_disk_samples(tmp_path: Path) -> None:
    text = scrape(NodeCollector(list, tmp_path / "not-yet"))
    assert sample(text, "alys_storage_disk_free_bytes") is None


def test_build_info_names_version_python_and_thespian(tmp_path: Path) -> None:
    text = scrape(NodeCollector(list, tmp_path))
    facts = build_facts()
    assert sample(text, "alys_build_info", {"version": facts.version,
                                            "python": platform.python_version(),
                                            "thespian": facts.thespian,
                                            "commit": facts.commit}) == 1.0
    assert facts.thespian != UNKNOWN and facts.version != UNKNOWN


@pytest.mark.parametrize(("text", "expected"), [
    ("c106dc4657e5def55ed51b84af2e567ce10d0699\n", "c106dc4657e5def55ed51b84af2e567ce10d0699"),
    ("C106DC4657E5DEF55ED51B84AF2E567CE10D0699", "c106dc4657e5def55ed51b84af2e567ce10d0699"),
    ("a" * 64, "a" * 64),
    ("", None),
    ("c106dc4", None),  # abbreviated: not what rev-parse HEAD prints
    ("fatal: not a git repository", None),
    ("g" * 40, None),
])
def test_only_a_full_object_name_is_taken_as_the_commit(text: str, expected: str | None
                                                         ) -> None:
    assert full_object_name(text) == expected


def test_a_directory_outside_any_checkout_has_no_commit(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
