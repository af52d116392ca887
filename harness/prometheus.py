"""A real Prometheus server (Debian's `prometheus`, 2.42) scraping a node, for tests.

`PrometheusServer.start` writes a configuration derived from the shipped example
(`ops/prometheus/prometheus.yml`): the same job, the node's metrics port as the target,
short scrape and evaluation intervals, and the given rule files; it runs the server on
127.0.0.1 on a free port with its storage in a temporary directory, and waits until it
is ready. Queries go through its HTTP API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.ports import LOOPBACK, free_port
from harness.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
OPS = REPO / "ops" / "prometheus"
EXAMPLE_CONFIG = OPS / "prometheus.yml"
RECORDING_RULES = OPS / "rules" / "alys-recording.yml"
ALERT_RULES = OPS / "rules" / "alys-alerts.yml"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
PORT_ATTEMPTS = 3


class PrometheusError(AssertionError):
    """The server or its API did not do what a test needs."""


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PrometheusError(f"{name} is not on PATH: scripts/test installs Debian's "
                              "prometheus package, or run `apt-get install prometheus`")
    return found


def alert_rules_with_for(directory: Path, overrides: dict[str, str]) -> Path:
    """A copy of the shipped alert rules in `directory`, with the `for:` of each alert
    named in `overrides` replaced (a test cannot wait minutes)."""
    document = yaml.safe_load(ALERT_RULES.read_text())
    found = set()
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in overrides:
                rule["for"] = overrides[rule["alert"]]
                found.add(rule["alert"])
    missing = set(overrides) - found
    if missing:
        raise PrometheusError(f"no such alerts in {ALERT_RULES}: {sorted(missing)}")
    path = directory / ALERT_RULES.name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def scrape_config(target: str, rule_files: list[Path], interval: str) -> dict[str, Any]:
    """The example configuration, pointed at `target`, every `interval`."""
    document: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    document["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    document["rule_files"] = [str(path) for path in rule_files]
    (job,) = document["scrape_configs"]
    job["static_configs"][0]["targets"] = [target]
    return document


@dataclass
class PrometheusServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def start(cls, directory: Path, target: str, rule_files: list[Path],
              interval: str = "1s") -> PrometheusServer:
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "prometheus.yml"
        config.write_text(yaml.safe_dump(scrape_config(target, rule_files, interval)))
        log = directory / "prometheus.log"
        for attempt in range(1, PORT_ATTEMPTS + 1):
            # A port free a moment ago may since be a node's outgoing connection's.
            port = free_port()
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [binary("prometheus"), f"--config.file={config}",
                     f"--storage.tsdb.path={directory / 'data'}",
                     f"--web.listen-address={LOOPBACK}:{port}", "--log.level=warn"],
                    stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            server = cls(process, port, log)
            try:
                wait_until(server.ready, timeout=START_TIMEOUT_S,
                           message=lambda: f"prometheus ready: {log.read_text()[-2000:]}")
                return server
            except PrometheusError:
                server.stop()
                if attempt == PORT_ATTEMPTS or "address already in use" not in log.read_text():
                    raise
            except BaseException:
                server.stop()
                raise
        raise AssertionError("unreachable")

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise PrometheusError(f"prometheus exited with {self.process.returncode}: "
                                  f"{self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a successful API answer; raises with Prometheus's error otherwise."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}",
                                        timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: "
                                  f"{body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's samples: each `metric` (labels) with its `value`."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def values(self, expr: str, label: str) -> dict[str, float]:
        """An instant query's values, keyed by one label."""
        return {sample["metric"].get(label, ""): float(sample["value"][1])
                for sample in self.query(expr)}

    def firing(self) -> list[dict[str, Any]]:
        return [alert for alert in self.api("alerts")["alerts"] if alert["state"] == "firing"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
