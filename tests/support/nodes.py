"""Starting real nodes from tests: a config on free ports, and proof nothing is left.

Every node a test starts gets its own admin port, metrics port, mock ports,
log file and metrics directory, and `transientUnique=True`, so tests never
share an actor system.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import yaml

from nodeconfig import NodeConfig, load_config
from runtime.processes import session_members
from runtime.rundir import prepare_metrics_dir
from tests.support.ports import free_port
from tests.support.waiting import wait_until


def write_config(directory: Path, **sections: Any) -> Path:
    """A config file on free ports inside `directory`; `sections` override whole keys."""
    admin, mock_port, control, metrics = distinct_free_ports(4)
    document: dict[str, Any] = {
        "node": {"id": "alys-test"},
        "actor_system": {"admin_port": admin, "host": "127.0.0.1"},
        "governance": {
            "endpoints": [{"url": f"127.0.0.1:{mock_port}", "priority": 100}],
            "mock": {"enabled": True, "port": mock_port, "control_port": control},
        },
        "metrics": {"host": "127.0.0.1", "port": metrics},
        "logging": {"file": str(directory / "logs" / "node.log"), "level": "INFO"},
        "storage": {"path": str(directory / "data" / "node.sqlite3")},
        "bridge": {"broadcaster": {"spool_path": str(directory / "data" / "broadcast.spool")}},
    }
    document.update(sections)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "node.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def node_config(directory: Path, **sections: Any) -> NodeConfig:
    return load_config(write_config(directory, **sections))


def descendants() -> set[int]:
    """Pids of this test process's live descendants (zombies excluded)."""
    alive = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def assert_session_gone(session_id: int, timeout: float = 10.0) -> None:
    wait_until(
        lambda: not session_members(session_id),
        timeout=timeout,
        message=f"processes of session {session_id} still alive",
    )


@contextmanager
def running_node(directory: Path, **sections: Any) -> Iterator[Any]:
    """Start a node's tree in this process; stop it and prove nothing is left."""
    from supervision.node import Node  # after conftest set the metrics directory

    config = node_config(directory, **sections)
    prepare_metrics_dir(directory / "metrics")
    before = descendants()
    node = Node(config, transient_unique=True)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        if node.handle is not None:
            assert_session_gone(node.handle.session_id)
        wait_until(
            lambda: not (descendants() - before),
            timeout=10.0,
            message="the node left child processes behind",
        )


def log_text(config: NodeConfig) -> str:
    path = Path(config.logging.file)
    return path.read_text() if path.exists() else ""


__all__ = [
    "assert_session_gone",
    "descendants",
    "log_text",
    "node_config",
    "running_node",
    "write_config",
]
