"""An actor that owns durable state: it loads it at start and persists every change.

The BridgeActor and the ChainActor are owners. Until the StorageActor has
answered `_Load`, the messages that need the state (`needs_state`) are kept
and handled in arrival order afterwards, so a message re-routed to a
freshly restarted owner is never judged against empty state. After each
message the owner's writes go out as one transaction (see
`actors.storage.client`).
"""

from __future__ import annotations

from typing import Any

from thespian.actors import WakeupMessage

from actors.base import NodeActor
from actors.storage.client import DurableStore, Fetches
from actors.storage.protocol import _Fetched, _Load, _Loaded, _Persisted, _PersistFailed

WRITE_RETRY_DELAY_S = 1.0


class _RetryWrites:
    """Wakeup payload: send the writes that failed again."""


class OwnerActor(NodeActor):
    owner: str = "owner"
    needs_state: tuple[type, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.store = DurableStore(self.owner, self.send)
        self.fetches = Fetches(self.owner, self.send)
        self.loaded = False
        self._stash: list[tuple[Any, Any]] = []
        self._depth = 0
        self._storage: Any = None
        self._retry_armed = False
        self._known_peers: dict[str, Any] = {}

    # -- subclass hooks -------------------------------------------------------------

    def on_loaded(self, records: tuple[Any, ...]) -> None:
        """The owner's durable state, once, before any stashed message is handled."""

    def on_peer_changed(self, name: str, address: Any) -> None:
        """A peer other than the StorageActor has a new address (it restarted)."""

    def after_messages(self) -> None:
        """Called after each message (a whole Batch counts as one), before the writes go out."""

    # -- plumbing ---------------------------------------------------------------------

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        if not self.loaded and isinstance(message, self.needs_state):
            self._stash.append((message, sender))
            return None
        self._depth += 1
        try:
            return super().receiveMessage(message, sender)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.after_messages()
                self.store.flush(self._storage)

    def on_peers_changed(self) -> None:
        previous, self._known_peers = self._known_peers, dict(self.peers)
        storage = self.peers.get("storage")
        if storage is not None and storage != self._storage:
            self._storage = storage
            if not self.loaded:
                self.send(storage, _Load(self.owner))
            resent = self.store.resend(storage)
            if resent:
                self.log.info("re-sent %d uncommitted writes to the new storage", resent)
            reread = self.fetches.resend(storage)
            if reread:
                self.log.info("re-sent %d unanswered reads to the new storage", reread)
        for name, address in self.peers.items():
            if name != "storage" and address != previous.get(name):
                self.on_peer_changed(name, address)

    def receiveMsg__Loaded(self, message: _Loaded, sender: Any) -> None:
        if self.loaded or message.owner != self.owner:
            return
        self.on_loaded(message.records)
        self.loaded = True
        stash, self._stash = self._stash, []
        if stash:
            self.log.info("handling %d messages that arrived before the state was loaded",
                          len(stash))
        for stashed, stashed_sender in stash:
            self.receiveMessage(stashed, stashed_sender)

    def receiveMsg__Persisted(self, message: _Persisted, sender: Any) -> None:
        # One commit may release thousands of replies and requests: batch them.
        with self.coalesced_sends():
            self.store.persisted(message.seq)

    def receiveMsg__Fetched(self, message: _Fetched, sender: Any) -> None:
        self.fetches.answered(message)

    def receiveMsg__PersistFailed(self, message: _PersistFailed, sender: Any) -> None:
        self.log.error("a write was not committed: %s", message.reason)
        if self.store.failed(message.seq, message.reason) and not self._retry_armed:
            self._retry_armed = True
            self.wakeupAfter(WRITE_RETRY_DELAY_S, payload=_RetryWrites())

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        if isinstance(message.payload, _RetryWrites):
            self._retry_armed = False
            self.store.retry(self._storage)
            return
        self.on_wakeup(message.payload)

    def on_wakeup(self, payload: Any) -> None:
        """A wakeup scheduled by the subclass."""
