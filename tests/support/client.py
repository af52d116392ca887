"""Run tests/support/grpc_client.py in a subprocess: the pytest process never imports grpc."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.mock import REPO_ROOT, project_env

CLIENT_TIMEOUT_S = 30.0
_run_ids = itertools.count(1)


@dataclass(frozen=True)
class Connection:
    """How a client reaches the server: plaintext unless a CA or a client cert is given."""

    ca: Path | None = None  # trust this CA for the server's certificate (TLS)
    cert: Path | None = None  # present this client certificate (mutual TLS)
    key: Path | None = None
    token: str | None = None  # call metadata `authorization: Bearer <token>`

    def args(self) -> list[str]:
        args: list[str] = []
        for option, value in (
            ("--ca", self.ca),
            ("--cert", self.cert),
            ("--key", self.key),
            ("--token", self.token),
        ):
            if value is not None:
                args.append(f"{option}={value}")
        return args


PLAINTEXT = Connection()


@dataclass(frozen=True)
class ClientResult:
    returncode: int
    responses: list[dict[str, Any]]
    stderr: str


@dataclass(frozen=True)
class GrpcClient:
    """A running client; its stdout (one JSON line per message) goes to a file."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def responses(self) -> list[dict[str, Any]]:
        """Messages printed so far; a line still being written is left for later."""
        text = self.stdout_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = CLIENT_TIMEOUT_S + 15) -> ClientResult:
        try:
            returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"grpc client still running after {timeout}s") from None
        return ClientResult(returncode, self.responses(), self.stderr())

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.process.wait()


def start_grpc_client(
    workdir: Path, target: str, command: str, *args: str, connection: Connection = PLAINTEXT
) -> GrpcClient:
    """Start ``python -m tests.support.grpc_client --target TARGET CONNECTION COMMAND ARGS``."""
    run = next(_run_ids)
    stdout_path = workdir / f"grpc-client-{run}.stdout"
    stderr_path = workdir / f"grpc-client-{run}.stderr"
    argv = [
        sys.executable,
        "-m",
        "tests.support.grpc_client",
        f"--target={target}",
        f"--timeout={CLIENT_TIMEOUT_S}",
        *connection.args(),
        command,
        *args,
    ]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=project_env(), stdout=stdout, stderr=stderr
        )
    return GrpcClient(process, stdout_path, stderr_path)


def start_stream_client(
    workdir: Path,
    target: str,
    requests: list[dict[str, Any]],
    *,
    expect: int | None = None,
    half_close: bool = False,
    raw: bool = False,
    connection: Connection = PLAINTEXT,
) -> GrpcClient:
    """Open a Stream, send ``requests`` (StreamRequest dicts), print what comes back.

    ``raw``: print every frame as ``{"raw_base64", "parse_error", "message"}``.
    """
    script = workdir / f"requests-{next(_run_ids)}.json"
    script.write_text(json.dumps(requests), encoding="utf-8")
    args = [f"--requests={script}"]
    if expect is not None:
        args.append(f"--expect={expect}")
    if half_close:
        args.append("--half-close")
    if raw:
        args.append("--raw")
    return start_grpc_client(workdir, target, "stream", *args, connection=connection)


class GrpcClients:
    """Starts clients against one server and kills any still running at close()."""

    def __init__(self, workdir: Path, target: str, connection: Connection = PLAINTEXT) -> None:
        self.workdir = workdir
        self.target = target
        self.connection = connection
        self._started: list[GrpcClient] = []

    def stream(
        self,
        requests: list[dict[str, Any]],
        *,
        expect: int | None = None,
        half_close: bool = False,
        raw: bool = False,
        connection: Connection | None = None,
    ) -> GrpcClient:
        """As start_stream_client; ``connection`` defaults to the pool's."""
        client = start_stream_client(
            self.workdir,
            self.target,
            requests,
            expect=expect,
            half_close=half_close,
            raw=raw,
            connection=connection or self.connection,
        )
        self._started.append(client)
        return client

    def call(self, command: str, *args: str, connection: Connection | None = None) -> ClientResult:
        """Run a unary call (``health``, ``capabilities``) to completion."""
        client = start_grpc_client(
            self.workdir, self.target, command, *args, connection=connection or self.connection
        )
        self._started.append(client)
        return client.wait()

    def close(self) -> list[int]:
        """Kill leftovers; returns the pids that were still running."""
        leftovers = [c.process.pid for c in self._started if c.process.poll() is None]
        for client in self._started:
            client.kill()
        return leftovers
