"""What `/info` says about a running node: version, build, uptime, the federation and
height in force, and the effective config, redacted.

`NodeInfo` is kept by the launcher (its config after every reload, the chain's
status as its watch loop last asked) and read by the HTTP threads: like `/healthz`,
a request never waits on the actor system. Only what the config shows redacted
(`nodeconfig.redact`) is shown: the config names the environment variables and
files that hold secrets, never their contents.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from actors.messages import ChainStatus
from nodeconfig import NodeConfig
from nodeconfig.redact import redacted_tree


class NodeInfo:
    def __init__(self, config: NodeConfig, *, version: str, commit: str | None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall = wall
        self._started = clock()
        self._started_at = wall()
        self._config = config
        self._chain: ChainStatus | None = None
        self._reloaded_at: float | None = None
        self.version = version
        self.commit = commit

    def set_config(self, config: NodeConfig) -> None:
        with self._lock:
            self._config = config
            self._reloaded_at = self._wall()

    def record_chain(self, status: ChainStatus) -> None:
        with self._lock:
            self._chain = status

    def document(self) -> dict[str, Any]:
        with self._lock:
            config, chain, reloaded_at = self._config, self._chain, self._reloaded_at
        return {
            "node_id": config.node.id,
            "version": self.version,
            "build": {"commit": self.commit},
            "started_at": self._started_at,
            "uptime_s": round(self._clock() - self._started, 3),
            "federation_version": chain.federation_version if chain else None,
            "script_type": chain.script_type if chain else None,
            "height": chain.height if chain else None,
            "halted": chain.halted if chain else None,
            "config_reloaded_at": reloaded_at,
            "config": redacted_tree(config),
        }
