"""Every frame a node's processes read must carry the tag of the node's secret (runtime/frames.py).

A forged pickle sent raw to the admin port or to an actor's port is dropped
unread, counted and logged with its sender's address; a client with another
secret, or none, gets nothing done; one with the node's secret works.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.nodes import (
    LocalNode,
    assert_session_gone,
    log_text,
    node_config,
    own_node,
    running_node,
)
from harness.waiting import wait_until
from runtime.frames import SECRET_BYTES, tag
from runtime.metrics import exposition
from runtime.rundir import prepare_metrics_dir, run_paths

pytestmark = pytest.mark.timeout(180)

REPO = Path(__file__).resolve().parents[2]


class Trap:
    """Unpickling this creates a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "x"))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_node(tmp_path / "node") as running:
        yield running


def refused(frame: str = "message") -> float:
    """The node's count of refused frames of one kind, summed over its processes."""
    pattern = rf'^alys_transport_frames_refused_total{{frame="{frame}"}} ([0-9.e+]+)$'
    found = re.search(pattern, exposition().decode(), re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def send_raw(port: int, body: bytes) -> tuple[int, bytes]:
    """One Thespian-framed `body` to `port`; our own port, and what came back before close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"%d>" % len(body) + body)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return sock.getsockname()[1], answer


def actor_port(node: LocalNode, name: str) -> int:
    address: Any = node.client.lookup(name)
    port = address.addressDetails.sockname[1]
    assert isinstance(port, int)
    return port


@pytest.mark.parametrize("target", ["admin", "bridge"])
def test_a_forged_pickle_is_never_loaded_and_its_refusal_is_counted_and_logged(
        node: LocalNode, tmp_path: Path, target: str) -> None:
    port = node.config.actor_system.admin_port if target == "admin" else actor_port(node, target)
    trap = tmp_path / f"pwned-{target}"
    before = refused()

    sender_port, answer = send_raw(port, pickle.dumps(Trap(trap)))

    wait_until(lambda: refused() > before, timeout=10, message="no refusal was counted")
    line = f"refused a message frame from 127.0.0.1:{sender_port}"
    wait_until(lambda: line in log_text(node.config), timeout=10,
               message=f"no log line {line!r}")
    assert not trap.exists()
    assert b"ACK" not in answer or b"DATAERR" in answer or not answer  # never a plain ACK
    # The node still works for its own client.
    assert node.client.ping(target if target != "admin" else "root") is not None


def test_the_same_pickle_tagged_with_the_node_secret_is_loaded(node: LocalNode,
                                                               tmp_path: Path) -> None:
    """The control: the bytes of the test above do run code once they carry the tag."""
    key = run_paths(node.config).secret_file.read_bytes()
    trap = tmp_path / "pwned-tagged"
    send_raw(node.config.actor_system.admin_port, tag(key, pickle.dumps(Trap(trap))))
    wait_until(trap.exists, timeout=10, message="the tagged pickle was not loaded")


CLIENT = """
import sys
from pathlib import Path
from client import NoNode, connect_to
from nodeconfig import load_config

config = load_config(sys.argv[1])
try:
    node = connect_to(config.actor_system.host, config.actor_system.admin_port,
                      secret_file=Path(sys.argv[2]), settle_s=1.0)
except NoNode as exc:
    print("no node:", exc)
    sys.exit(3)
print("actors:", len(node.node_status().actors))
"""

PLAIN_THESPIAN = """
import sys
from thespian.actors import ActorSystem
from actors.front_desk import ROOT_GLOBAL_NAME, RootProbe
from actors.messages import NodeStatus
from client import prepare_process  # noqa: F401  (not called: no secret)
import os
os.environ["THESPIAN_BASE_IPADDR"] = "127.0.0.1"
system = ActorSystem("multiprocTCPBase", {"Admin Port": int(sys.argv[1])}, transientUnique=True)
try:
    root = system.createActor(RootProbe, globalName=ROOT_GLOBAL_NAME)
    print("answer:", system.ask(root, NodeStatus(), 3))
except Exception as exc:
    print("failed:", type(exc).__name__)
"""


def run_client(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The client is another process, and does not write into the node's metrics directory.
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_client_with_the_node_secret_gets_its_answers(node: LocalNode) -> None:
    config_file = node.config.source
    result = run_client(CLIENT, str(config_file), str(run_paths(node.config).secret_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "actors: 7" in result.stdout


def test_a_client_with_a_wrong_secret_gets_nothing_done(node: LocalNode,
                                                        tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-secret"
    wrong.write_bytes(os.urandom(SECRET_BYTES))
    before = refused()

    result = run_client(CLIENT, str(node.config.source), str(wrong))

    assert result.returncode == 3, result.stdout + result.stderr
    assert f"{wrong} is not its transport secret" in result.stdout
    assert refused() > before
    assert "refused a message frame from 127.0.0.1:" in log_text(node.config)


def test_a_plain_thespian_client_without_the_secret_gets_nothing(node: LocalNode) -> None:
    before = refused()
    result = run_client(PLAIN_THESPIAN, str(node.config.actor_system.admin_port))
    assert "answer: NodeStatusReport" not in result.stdout, result.stdout + result.stderr
    assert refused() > before


def test_a_client_without_the_secret_file_is_told_where_it_looked(node: LocalNode,
                                                                  tmp_path: Path) -> None:
    result = run_client(CLIENT, str(node.config.source), str(tmp_path / "no-such-secret"))
    assert result.returncode == 1
    assert "NoSecret" in result.stderr and "no-such-secret" in result.stderr


def test_nodes_started_one_after_another_in_one_process_each_use_their_own_secret(
        tmp_path: Path) -> None:
    configs = {name: node_config(tmp_path / name) for name in ("first", "second")}
    secrets: dict[str, bytes] = {}
    for name in ("first", "second", "first"):  # the first one again: a restart
        prepare_metrics_dir(tmp_path / name / f"metrics-{len(secrets)}")
        with own_node(configs[name]) as node:
            session = node.owner.handle.session_id if node.owner.handle else 0
            key = run_paths(node.config).secret_file.read_bytes()
            assert secrets.setdefault(name, key) == key  # kept across the restart
            assert len(node.client.node_status().actors) == 7
        assert_session_gone(session)
    assert secrets["first"] != secrets["second"]
