"""A real Prometheus (Debian's 2.42) scraping a real node started by `scripts/start`.

One node and one Prometheus serve every test of this module (starting both takes
seconds; the tests run in file order, and the last one stalls governance). Prometheus
scrapes and evaluates every second, with the shipped rules; only the `for:` of
AlysStreamNotConnected is shortened, so that the test can see it fire.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
import yaml

from actors.messages import PegoutAccepted
from client import NodeClient, connect
from harness.dashboard import DASHBOARD, metric_names, panel_queries, runnable
from harness.launcher import Launched, http_get, launch, stop, wait_ready
from harness.nodes import write_config
from harness.pegouts import Federation, unsigned_pegout
from harness.prometheus import (
    RECORDING_RULES,
    PrometheusServer,
    alert_rules_with_for,
    binary,
)
from harness.scrape import sample
from harness.stream import FAST_GOVERNANCE
from harness.waiting import wait_until
from mock_governance.control_client import MockControlClient
from nodeconfig import load_config
from runtime.buildinfo import build_facts
from runtime.processes import session_members
from supervision.tree import actor_names

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

ACTORS = set(actor_names())
LOCAL = Federation("local-dev")  # the federation of the launcher's mock (config defaults)


@dataclass
class Stack:
    launched: Launched
    client: NodeClient
    prometheus: PrometheusServer
    metrics_url: str
    mock: MockControlClient
    pegout_sent_at: float = 0.0  # wall clock before `_work`'s peg-out was sent

    def scrape(self) -> str:
        code, body = http_get(self.metrics_url)
        assert code == 200, body
        return body

    def actor_pids(self) -> dict[str, int]:
        return {a.name: a.pid for a in self.client.node_status().actors
                if a.state == "running"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary("prometheus")  # fails with how to install it, before a node is started
    directory = tmp_path_factory.mktemp("prometheus-node")
    config_path = write_config(directory)
    document = yaml.safe_load(config_path.read_text())
    document["governance"].update(FAST_GOVERNANCE)
    config_path.write_text(yaml.safe_dump(document, sort_keys=False))
    config = load_config(config_path)
    launched = launch(config_path, directory / "start.out")
    prometheus = None
    session = None
    try:
        wait_ready(launched)
        rules = [RECORDING_RULES, alert_rules_with_for(directory, {
            "AlysStreamNotConnected": "1s"})]
        target = f"127.0.0.1:{config.metrics.port}"
        prometheus = PrometheusServer.start(directory / "prometheus", target, rules)
        with connect(config) as client:
            session = os.getsid(client.node_status().actors[0].pid)
            stack = Stack(launched, client, prometheus, f"http://{target}/metrics",
                          MockControlClient(config.governance.mock.control_port))
            _work(stack)
            yield stack
    finally:
        if prometheus is not None:
            prometheus.stop()
        assert stop(launched) == 0, launched.text()
        if session is not None:
            wait_until(lambda: not session_members(session), timeout=20,
                       message="processes of the node outlived the launcher")


def test_prometheus_scrapes_the_node_and_sees_every_actor_up(stack: Stack) -> None:
    prometheus = stack.prometheus
    wait_until(lambda: prometheus.values('up{job="alys-node"}', "job") == {"alys-node": 1.0},
               timeout=30, message=lambda: f"up: {prometheus.query('up')}")

    def all_up() -> bool:
        return prometheus.values("alys_actor_up", "actor") == dict.fromkeys(ACTORS, 1.0)

    wait_until(all_up, timeout=30,
               message=lambda: f"alys_actor_up: {prometheus.values('alys_actor_up', 'actor')}")
    (build,) = prometheus.query("alys_build_info")
    facts = build_facts()
    assert build["metric"]["version"] == facts.version != "unknown"
    assert build["metric"]["python"] == platform.python_version()
    assert build["metric"]["thespian"] == facts.thespian != "unknown"
    assert build["value"][1] == "1"
    free = prometheus.values("alys_storage_disk_free_bytes", "job")["alys-node"]
    assert 0 < free <= prometheus.values("alys_storage_disk_size_bytes", "job")["alys-node"]


def test_live_metrics_pass_promtool_check_metrics(stack: Stack) -> None:
    result = subprocess.run([binary("promtool"), "check", "metrics"], input=stack.scrape(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_cpu_and_memory_are_those_of_each_actors_current_process(stack: Stack) -> None:
    pids = stack.actor_pids()
    assert set(pids) == ACTORS
    text = stack.scrape()
    for name, pid in pids.items():
        process = psutil.Process(pid)
        cpu = sample(text, "alys_actor_cpu_seconds_total", {"actor": name})
        rss = sample(text, "alys_actor_resident_memory_bytes", {"actor": name})
        times = process.cpu_times()
        assert cpu is not None and 0 <= cpu <= times.user + times.system, (name, cpu)
        assert rss is not None and 0.5 < rss / process.memory_info().rss < 2, (name, rss)
    # The stream works all the time (heartbeats every 0.2 s here): its CPU time grows.
    first = sample(text, "alys_actor_cpu_seconds_total", {"actor": "stream"}) or 0.0
    wait_until(lambda: (sample(stack.scrape(), "alys_actor_cpu_seconds_total",
                               {"actor": "stream"}) or 0.0) > first,
               timeout=30, message="the stream's CPU time never grew")


def test_a_pegout_through_the_node_is_seen_by_prometheus(stack: Stack) -> None:
    wait_until(lambda: stack.prometheus.values(
                   "alys_pegout_accepted_to_broadcast_seconds_count", "job") == {
                   "alys-node": 1.0},
               timeout=60, message="Prometheus never saw the peg-out's broadcast timed")
    # The recording rule: seconds since the signing, no longer since the epoch (never).
    # Bounded by the time since the peg-out was sent, however long the tests before took.
    def since_signed() -> float:
        return stack.prometheus.values("alys:pegout_since_last_signed:seconds",
                                       "job").get("alys-node", -1)

    wait_until(lambda: 0 <= since_signed() <= time.time() - stack.pegout_sent_at + 1,
               timeout=30, message=lambda: f"the time since the last signing was not "
               f"recorded: {since_signed()}, peg-out sent {stack.pegout_sent_at}")


def test_a_sigkilled_actor_is_counted_as_a_restart(stack: Stack) -> None:
    prometheus = stack.prometheus

    def restarts() -> dict[str, float]:
        return prometheus.values("alys_actor_restarts_total", "actor")

    # Every actor's count is there from its start (0 unless a loaded machine made a
    # supervisor restart it already): an increase() can see the first restart.
    before = wait_until(lambda: (lambda counts: counts if set(counts) == ACTORS else None)(
                            restarts()), timeout=30,
                        message=lambda: f"restarts before the kill: {restarts()}")
    old = stack.actor_pids()["bridge"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: stack.actor_pids().get("bridge") not in (None, old), timeout=30,
               message="the bridge was not restarted")
    wait_until(lambda: restarts().get("bridge", 0) >= before["bridge"] + 1, timeout=30,
               message=lambda: f"restarts: {restarts()}, before the kill: {before}")
    wait_until(lambda: prometheus.values("alys:actor_restarts:increase15m", "actor")
               .get("bridge", 0) > 0, timeout=30,
               message="the recording rule did not see the restart")
    wait_until(lambda: prometheus.values('alys_actor_up{actor="bridge"}', "actor") == {
        "bridge": 1.0}, timeout=30, message="the restarted bridge is not up")


def test_every_dashboard_query_runs_and_names_only_metrics_the_node_exports(
        stack: Stack) -> None:
    exported = {name for family in _families(stack.scrape()) for name in family}
    recorded = _recorded_names()
    queries = panel_queries(DASHBOARD)
    assert len(queries) >= 25
    unknown = {}
    for title, expr in queries:
        stack.prometheus.api("query", query=runnable(expr))  # raises with Prometheus's error
        names = metric_names(expr) - exported - recorded - {"up"}
        if names:
            unknown[title] = names
    assert not unknown, f"panels name metrics the node does not export: {unknown}"


def test_the_stream_not_connected_alert_fires_when_governance_stalls(stack: Stack) -> None:
    prometheus = stack.prometheus

    def fired() -> list[dict[str, object]]:
        return [a for a in prometheus.firing()
                if a["labels"]["alertname"] == "AlysStreamNotConnected"]

    # Quiet while connected (the node's first second, before it connected, may have fired).
    wait_until(lambda: prometheus.values("alys_stream_up", "job") == {"alys-node": 1.0}
               and not fired(), timeout=30, message=lambda: f"firing: {fired()}")
    stack.mock.behave(stall=True)
    try:
        (alert,) = wait_until(fired, timeout=40,
                              message=lambda: f"alerts: {prometheus.api('alerts')}")
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"] == "docs/alerts.md#alysstreamnotconnected"
    finally:
        stack.mock.behave(stall=False)
    wait_until(lambda: stack.client.connection_status().state == "connected", timeout=30,
               message="the stream did not come back once governance answered again")


def _work(stack: Stack) -> None:
    """What every test may rely on having happened: a peg-out broadcast, and answered
    status updates (every 0.5 s here), so that their labelled series exist."""
    request = unsigned_pegout("prom-1", LOCAL.script, seed=7)
    stack.pegout_sent_at = time.time()
    stack.client.tell_batches("bridge", [request], 1)
    assert stack.client.replies(1, object, 60) == [PegoutAccepted("prom-1")]

    def done() -> bool:
        text = stack.scrape()
        return (sample(text, "alys_pegout_accepted_to_broadcast_seconds_count") == 1
                and (sample(text, "alys_stream_request_duration_seconds_count",
                            {"type": "status"}) or 0) > 0)

    wait_until(done, timeout=60, message="no broadcast peg-out or answered status update")


def _families(text: str) -> list[set[str]]:
    """Every sample name of the exposition, grouped by metric family."""
    from prometheus_client.parser import text_string_to_metric_families

    return [{s.name for s in family.samples} for family in text_string_to_metric_families(text)]


def _recorded_names() -> set[str]:
    document = yaml.safe_load(RECORDING_RULES.read_text())
    return {rule["record"] for group in document["groups"] for rule in group["rules"]}

