"""Metrics read at scrape time by the process that serves `/metrics`.

The actors' own samples come from the multiprocess files (`runtime.metrics`);
what no actor can count for itself is read here, when Prometheus asks: the
build, the CPU time and resident memory of each actor's process (by the pids
of the latest status report), and the free space where the database lives.
Reading costs one `/proc` look per actor and one `statvfs`, nothing between
scrapes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime.buildinfo import build_facts

ActorPids = Callable[[], Iterable[tuple[str, int]]]


class NodeCollector(Collector):
    """`actor_pids` names each actor's process (name, pid) as last seen; `data_dir` is
    the directory of the database."""

    def __init__(self, actor_pids: ActorPids, data_dir: str | Path) -> None:
        self._actor_pids = actor_pids
        self._data_dir = Path(data_dir)

    def collect(self) -> Iterator[Metric]:
        yield build_info()
        yield from actor_processes(self._actor_pids())
        yield from disk_space(self._data_dir)


def build_info() -> Metric:
    facts = build_facts()
    info = GaugeMetricFamily("alys_build_info",
                             "The running build: version, git commit, Python and Thespian "
                             "versions as labels; always 1.",
                             labels=["version", "commit", "python", "thespian"])
    info.add_metric([facts.version, facts.commit, facts.python, facts.thespian], 1)
    return info


def actor_processes(actors: Iterable[tuple[str, int]]) -> Iterator[Metric]:
    cpu = CounterMetricFamily("alys_actor_cpu_seconds",
                              "CPU time (user and system) of the named actor's current "
                              "process; starts again from 0 when the actor is restarted.",
                              labels=["actor"])
    memory = GaugeMetricFamily("alys_actor_resident_memory_bytes",
                               "Resident memory of the named actor's process.",
                               labels=["actor"])
    for name, pid in actors:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                rss = process.memory_info().rss
        except psutil.Error:
            continue  # gone since the last report (being restarted): no sample, no guess
        cpu.add_metric([name], times.user + times.system)
        memory.add_metric([name], rss)
    yield cpu
    yield memory


def disk_space(directory: Path) -> Iterator[Metric]:
    try:
        usage = shutil.disk_usage(directory)
    except OSError:
        return  # not there yet (the node creates it at start): nothing to say
    yield GaugeMetricFamily("alys_storage_disk_free_bytes",
                            "Bytes free for the node's user on the file system of the "
                            "database's directory.", value=usage.free)
    yield GaugeMetricFamily("alys_storage_disk_size_bytes",
                            "Size of the file system of the database's directory.",
                            value=usage.total)
