"""The mock governance server in a subprocess, and its control API.

No grpc here: the processes that use this (tests, benchmarks) start actor
systems, and gRPC must never be initialised in a process before it forks.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.waiting import wait_until
from mock_governance.control_client import MockControlClient

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_LINE = re.compile(
    r"^mock-governance: ready grpc=127\.0\.0\.1:(?P<grpc>\d+) "
    r"control=127\.0\.0\.1:(?P<control>\d+) pid=(?P<pid>\d+) tls=(?P<tls>off|on|mtls)$"
)
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def project_env() -> dict[str, str]:
    """The environment for project subprocesses: the repo root importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass(frozen=True)
class MockGovernance(MockControlClient):
    """A running mock server process and the ports it reported."""

    process: subprocess.Popen[bytes]
    grpc_port: int
    control_port: int
    stdout_path: Path
    stderr_path: Path
    tls: str = "off"  # off | on | mtls, from the ready line

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Signal (SIGTERM), wait, return the exit status; kill and fail if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"mock governance did not stop within {timeout}s:\n{self.stderr()}"
            ) from None


def _read_ready(stdout_path: Path) -> re.Match[str] | None:
    text = stdout_path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    return READY_LINE.match(lines[0]) if lines else None


def start_mock_governance(
    workdir: Path, *, port: int = 0, control_port: int = 0, extra_args: tuple[str, ...] = ()
) -> MockGovernance:
    """Start the mock (by default on ports the OS picks) and wait for its ready line."""
    workdir.mkdir(parents=True, exist_ok=True)
    stdout_path = workdir / "mock-governance.stdout"
    stderr_path = workdir / "mock-governance.stderr"
    command = [
        sys.executable,
        "-m",
        "mock_governance",
        f"--port={port}",
        f"--control-port={control_port}",
        "--exit-with-parent",
        *extra_args,
    ]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=project_env(), stdout=stdout, stderr=stderr
        )

    def ready() -> re.Match[str] | None:
        if process.poll() is not None:
            raise AssertionError(
                f"mock governance exited with {process.returncode} before ready:\n"
                f"{stderr_path.read_text(errors='replace')}"
            )
        return _read_ready(stdout_path)

    try:
        match = wait_until(ready, timeout=START_TIMEOUT_S, message="the mock's ready line")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        raise
    assert int(match["pid"]) == process.pid, match.group(0)
    return MockGovernance(
        process, int(match["grpc"]), int(match["control"]), stdout_path, stderr_path, match["tls"]
    )
