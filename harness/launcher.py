"""Running `scripts/start`, `scripts/status` and friends as an operator would.

The launcher's stdout goes to a file, never a pipe: the daemonized Thespian
admin inherits it, and a captured pipe would never reach end-of-file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
START = REPO / "scripts" / "start"
STATUS = REPO / "scripts" / "status"


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    config_path: Path
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    @property
    def config(self) -> dict[str, Any]:
        document: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        return document


def launch(config_path: Path, output: Path, env: dict[str, str] | None = None) -> Launched:
    """`scripts/start --config FILE`, its output appended to `output`; `env`: None inherits."""
    with output.open("ab") as sink:
        process = subprocess.Popen([str(START), "--config", str(config_path)], stdout=sink,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return Launched(process, config_path, output)


def wait_ready(launched: Launched, timeout: float = 90) -> str:
    def ready_line() -> str | None:
        for line in launched.text().splitlines():
            if line.startswith("ready:"):
                return line
        assert launched.process.poll() is None, f"scripts/start exited: {launched.text()}"
        return None

    return wait_until(ready_line, timeout=timeout, message="scripts/start never printed ready:")


def run_status(config_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STATUS), "--config", str(config_path), *extra],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def status_json(config_path: Path) -> dict[str, Any]:
    result = run_status(config_path, "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def stop(launched: Launched) -> int:
    if launched.process.poll() is None:
        launched.process.send_signal(signal.SIGTERM)
    return launched.process.wait(timeout=60)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
