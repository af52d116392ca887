"""Nothing secret in any output, and nothing the node writes readable by anyone else.

A node runs with canary secrets: a bearer token (in the variable
`governance.auth.token_env` names) that the mock refuses, and RPC URLs with
`user:pass@` and an API key in the query, pointing at a port where nothing
listens. Then every place a secret could leak to is searched: every file under
the node's directory (logs, Thespian's log, database, WAL, spool, run and metrics
files), `/metrics`, `scripts/status --json`, the command lines of the node's
processes and the texts of the errors the test caught.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.launcher import status_json
from harness.mock import MockGovernance, start_mock_governance
from harness.nodes import node_config, running_node
from harness.ports import distinct_free_ports
from harness.stream import governance_section
from harness.waiting import wait_until
from runtime import metrics
from runtime.processes import session_members
from runtime.rundir import make_private, prepare_metrics_dir

TOKEN_ENV = "ALYS_TEST_CANARY_TOKEN"
TOKEN = "canary-token-7Qx2Wv"
USER = "canary-user-4Hd1"
PASSWORD = "canary-pass-9Zr4Tb"
API_KEY = "canary-apikey-3Lm8Pc"
CANARIES = (TOKEN, USER, PASSWORD, API_KEY)


def canary_url(port: int) -> str:
    return f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/?apikey={API_KEY}"


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[MockGovernance]:
    server = start_mock_governance(tmp_path / "mock")
    try:
        server.behave(require_token="the-token-governance-expects")
        yield server
    finally:
        server.stop()


def canary_sections(directory: Path, mock: MockGovernance) -> dict[str, object]:
    (unreachable,) = distinct_free_ports(1)
    return {
        "governance": governance_section([mock.target], auth={"token_env": TOKEN_ENV}),
        "bridge": {"broadcaster": {"kind": "bitcoin_rpc", "rpc_url": canary_url(unreachable),
                                   "spool_path": str(directory / "data" / "broadcast.spool")},
                   "follow_interval_s": 0.2},
        "chain": {"height_source": {"kind": "evm_rpc", "rpc_url": canary_url(unreachable)}},
    }


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [canary for canary in CANARIES if canary.encode() in data]


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def assert_no_canary_in_files(directory: Path) -> None:
    # The test's own config holds the canaries (which proves the search finds them);
    # nothing the node wrote may.
    assert leaks((directory / "node.yaml").read_bytes()) == [USER, PASSWORD, API_KEY]
    found = {str(path): leaks(path.read_bytes()) for path in files_under(directory)
             if path.name != "node.yaml"}
    assert any(path.endswith("node.log") for path in found)
    assert {path: hit for path, hit in found.items() if hit} == {}


def test_no_canary_reaches_logs_files_metrics_status_or_command_lines(
        tmp_path: Path, mock: MockGovernance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    directory = tmp_path / "node"
    outputs: dict[str, str | bytes] = {}
    with running_node(directory, **canary_sections(directory, mock)) as node:
        # The token is refused: the stream keeps failing and reconnecting. The RPCs are
        # unreachable: the height source and the follower keep failing.
        wait_until(lambda: "UNAUTHENTICATED" in (node.client.connection_status().last_error
                                                 or ""), timeout=60,
                   message=lambda: f"token never refused: {node.client.connection_status()}")
        log = Path(node.config.logging.file)
        wait_until(lambda: "127.0.0.1" in log.read_text() and "eth_blockNumber" in
                   log.read_text(), timeout=60, message="no height source failure logged")
        outputs["/metrics"] = metrics.exposition()
        outputs["status --json"] = repr(status_json(directory / "node.yaml"))
        outputs["connection status"] = repr(node.client.connection_status())
        assert node.owner.handle is not None
        for pid in session_members(node.owner.handle.session_id):
            try:
                outputs[f"/proc/{pid}/cmdline"] = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
    assert {name: leaks(text) for name, text in outputs.items() if leaks(text)} == {}
    assert_no_canary_in_files(directory)


def test_a_failed_start_is_reported_redacted_and_leaks_nothing(
        tmp_path: Path, mock: MockGovernance, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bridge cannot start (its RPC password variable is unset): a fatal error, with
    the reason, in the log; Thespian never sees the `_Start` fail."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("ALYS_TEST_UNSET_PASSWORD", raising=False)
    directory = tmp_path / "node"
    sections = canary_sections(directory, mock)
    sections["bridge"]["broadcaster"]["rpc_password_env"] = (  # type: ignore[index]
        "ALYS_TEST_UNSET_PASSWORD")
    sections["supervision"] = {"supervisors": {
        name: {"intensity": 1, "period_s": 60}
        for name in ("root", "storage_supervisor", "system_supervisor")}}
    config = node_config(directory, **sections)
    umask = make_private(config)
    prepare_metrics_dir(directory / "metrics")
    from supervision.node import Node, NodeStartError

    owner = Node(config, transient_unique=True)
    caught: list[str] = []
    try:
        with pytest.raises(NodeStartError) as failed:
            owner.start(ready_timeout_s=5)
        caught.append(str(failed.value))
        log = Path(config.logging.file)
        wait_until(lambda: "reports a fatal error: start failed" in log.read_text(),
                   timeout=30, message="no fatal start error in the log")
        text = log.read_text()
        assert "ALYS_TEST_UNSET_PASSWORD" in text  # the variable's name is said
    finally:
        owner.stop()
        os.umask(umask)
    assert [c for c in caught if leaks(c)] == []
    assert_no_canary_in_files(directory)


def test_everything_the_node_writes_is_private(tmp_path: Path, mock: MockGovernance,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    directory = tmp_path / "node"
    # What an earlier run left readable is tightened at start.
    (directory / "data" / "run").mkdir(parents=True)
    (directory / "data").chmod(0o755)
    old = directory / "data" / "run" / "mock-governance-1.out"
    old.write_text("from an earlier run\n")
    old.chmod(0o644)
    with running_node(directory, governance=governance_section([mock.target])) as node:
        assert node.client.ping("bridge") is not None
        assert node.client.chain_status() is not None  # the chain has loaded from storage
    written = [path for path in directory.rglob("*") if path.name != "node.yaml"]
    assert any(path.name == "node.sqlite3" for path in written)
    assert any(path.name == "node.log" for path in written)
    modes = {str(path): oct(stat.S_IMODE(path.lstat().st_mode)) for path in written}
    wrong = {path: mode for path, mode in modes.items()
             if mode != (oct(0o700) if Path(path).is_dir() else oct(0o600))}
    assert wrong == {}
