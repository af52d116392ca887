"""Federation updates for a hostile chaos run, pushed through the mock as governance would.

One version at a time: the feed pushes version n (the mock's own signers,
so peg-outs keep being signable), and pushes the very same message again,
same request id, until version n is in the node's `federations` table; only
then n + 1. That is what a governance that re-sends unacknowledged pushes
does, and it makes every push after a reconnect a repeat the node must
apply once. What was pushed is kept here, to judge the table against.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chaos.verdict import federation_rows, max_federation_version
from mock_governance.control_client import ControlRequestFailed, MockControlClient

# How long a push may go unstored before it is pushed again (a reconnect, a restarted
# chain, or a frame dropped before registration, are all answered by a repeat).
REPUSH_AFTER_S = 3.0


class FederationFeed:
    def __init__(self, mock: MockControlClient, db_path: Path, *, run_id: str,
                 every_s: float) -> None:
        self.mock = mock
        self.db_path = db_path
        self.run_id = run_id
        self.every_s = every_s
        self.base = max_federation_version(db_path)  # what an earlier run left
        self.pushed: dict[int, str] = {}  # version -> request id of its valid push
        self.repeats = 0
        self.failed_pushes = 0  # the mock was down (killed with the node? restarted)
        signers = mock.federation()
        self.indices: list[int] = signers["indices"]
        self.threshold: int = signers["threshold"]
        self._current: int | None = None  # the version pushed and not yet stored
        self._message: dict[str, Any] | None = None  # its push, as sent
        self._pushed_at = 0.0
        self._stored_at = time.monotonic()

    @property
    def next_version(self) -> int:
        """The version a hostile update should claim: the one the feed is about to make."""
        return self._current if self._current is not None else self.base + len(self.pushed) + 1

    def tick(self) -> None:
        now = time.monotonic()
        if self._current is not None:
            if self._stored(self._current):
                self._current, self._message, self._stored_at = None, None, now
            elif now - self._pushed_at >= REPUSH_AFTER_S:
                self._push_again(now)
            return
        if now - self._stored_at >= self.every_s:
            self._push_new(now)

    def repeat_stored(self) -> bool:
        """Push a version the node already stored again (a hostile repeat); False if none."""
        stored = [version for version in self.pushed if version != self._current]
        if not stored:
            return False
        version = max(stored)
        try:
            update = self.mock.push_federation_update(
                version=version, indices=self.indices, threshold=self.threshold,
                request_id=self.pushed[version])
        except (OSError, ControlRequestFailed):
            return False
        return bool(update["delivered"])

    def settled(self) -> bool:
        return self._current is None

    def _stored(self, version: int) -> bool:
        return any(v == version for v, _, _, _ in federation_rows(self.db_path, version - 1))

    def _push_new(self, now: float) -> None:
        version = self.base + len(self.pushed) + 1
        request_id = f"chaos-{self.run_id}-fed-v{version}"
        try:
            update = self.mock.push_federation_update(
                version=version, indices=self.indices, threshold=self.threshold,
                request_id=request_id)
        except (OSError, ControlRequestFailed):
            self.failed_pushes += 1
            return
        self.pushed[version] = request_id
        self._current, self._message, self._pushed_at = version, update["message"], now

    def _push_again(self, now: float) -> None:
        assert self._message is not None  # called only while a version is in flight
        try:
            ok = self.mock.post("/push", {"message": self._message}).status == 200
        except OSError:
            ok = False
        self.repeats += ok
        self.failed_pushes += not ok
        self._pushed_at = now
