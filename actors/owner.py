"""An actor that owns durable state: it loads it at start and persists every change.

The BridgeActor and the ChainActor are owners. Until the StorageActor has
answered `_Load`, the messages that need the state (`needs_state`) are kept
and handled in arrival order afterwards, so a message re-routed to a
freshly restarted owner is never judged against empty state. After each
message the owner's writes go out as one transaction (see
`actors.storage.client`).

Only the current StorageActor's answers count: a `_Persisted`, `_PersistFailed`
or `_Fetched` from one that has since been replaced answers a message the
replacement was sent again, and will answer itself. A `_Persist` or `_Fetch`
that Thespian returns as a PoisonMessage (the StorageActor failed on it
twice) is a failure of that write or read, for good: it is never left in
flight.
"""

from __future__ import annotations

from thespian.actors import ActorAddress, PoisonMessage, ThespianWatch, WakeupMessage

from actors.base import NodeActor
from actors.messages import Batch
from actors.storage import metrics
from actors.storage.client import DurableStore, Fetches
from actors.storage.limits import describe
from actors.storage.protocol import (
    _Fetch,
    _Fetched,
    _Load,
    _Loaded,
    _Persist,
    _Persisted,
    _PersistFailed,
)
from actors.storage.records import Loaded, Record

WRITE_RETRY_DELAY_S = 1.0
# The longest a write that can wait (`DurableStore.write(can_wait=True)`) waits for one
# that cannot to go with. Under load the next one comes within milliseconds.
WAITING_WRITES_S = 0.05


class _RetryWrites:
    """Wakeup payload: send the writes that failed again."""


class _WaitedWrites:
    """Wakeup payload: the writes that can wait have waited long enough."""


class OwnerActor(NodeActor):
    owner: str = "owner"
    needs_state: tuple[type, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.store = DurableStore(self.owner, self.send, refused=self._write_refused)
        self.fetches = Fetches(self.owner, self.send)
        self.loaded = False
        self._stash: list[tuple[object, ActorAddress]] = []
        self._depth = 0
        self._storage: ActorAddress | None = None
        self._retry_armed = False
        self._waiting_armed = False  # a `_WaitedWrites` wakeup is on its way
        self._known_peers: dict[str, ActorAddress] = {}

    # -- subclass hooks -------------------------------------------------------------

    def load_request(self) -> _Load:
        """What to ask storage for at start; the chain leaves out what is past retention."""
        return _Load(self.owner)

    def on_loaded(self, records: tuple[Loaded, ...]) -> None:
        """The owner's durable state, once, before any stashed message is handled."""

    def on_peer_changed(self, name: str, address: ActorAddress) -> None:
        """A peer other than the StorageActor has a new address (it restarted)."""

    def after_messages(self) -> None:
        """Called after each message (a whole Batch counts as one), before the writes go out."""

    # -- plumbing ---------------------------------------------------------------------

    def handle(self, message: object, sender: ActorAddress) -> ThespianWatch | None:
        # Called once `NodeActor.receiveMessage` has found the sender allowed.
        if not self.loaded and isinstance(message, self.needs_state):
            self._stash.append((message, sender))
            return None
        self._depth += 1
        try:
            return super().handle(message, sender)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.after_messages()
                self.store.flush(self._storage)
                if self.store.waiting and not self._waiting_armed:
                    self._waiting_armed = True
                    self.wakeupAfter(WAITING_WRITES_S, payload=_WaitedWrites())

    def on_peers_changed(self) -> None:
        previous, self._known_peers = self._known_peers, dict(self.peers)
        storage = self.peers.get("storage")
        if storage is not None and storage != self._storage:
            self._storage = storage
            if not self.loaded:
                self.send(storage, self.load_request())
            resent = self.store.resend(storage)
            if resent:
                self.log.info("re-sent %d uncommitted writes to the new storage", resent)
            reread = self.fetches.resend(storage)
            if reread:
                self.log.info("re-sent %d unanswered reads to the new storage", reread)
        for name, address in self.peers.items():
            if name != "storage" and address != previous.get(name):
                self.on_peer_changed(name, address)

    def receiveMsg__Loaded(self, message: _Loaded, sender: ActorAddress) -> None:
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

    def receiveMsg__Persisted(self, message: _Persisted, sender: ActorAddress) -> None:
        if not self._from_storage(sender, message):
            return
        # One commit may release thousands of replies and requests: batch them.
        with self.coalesced_sends():
            self.store.persisted(message.seq, message.found)

    def receiveMsg__Fetched(self, message: _Fetched, sender: ActorAddress) -> None:
        if self._from_storage(sender, message):
            self.fetches.answered(message)

    def receiveMsg__PersistFailed(self, message: _PersistFailed, sender: ActorAddress) -> None:
        if self._from_storage(sender, message):
            self._write_failed(message.seq, message.reason, permanent=message.permanent)

    def receiveMsg_PoisonMessage(self, message: PoisonMessage, sender: ActorAddress) -> None:
        returned = message.poisonMessage
        items = returned.items if isinstance(returned, Batch) else (returned,)
        ours = [item for item in items if isinstance(item, _Persist | _Fetch)
                and item.owner == self.owner]
        if not ours:
            super().receiveMsg_PoisonMessage(message, sender)
            return
        if not self._from_storage(sender, message):
            return
        # Thespian has already retried it: the StorageActor fails on it every time.
        reason = f"the StorageActor failed on it: {_last_line(message.details)}"
        self.log.error("the StorageActor failed on %d of this owner's messages: %s",
                       len(ours), reason)
        for item in ours:
            if isinstance(item, _Persist):
                self._write_failed(item.seq, reason, permanent=True)
            else:
                self.fetches.answered(_Fetched(self.owner, item.query_id, error=reason))

    def _from_storage(self, sender: ActorAddress, message: object) -> bool:
        """Whether `sender` is the current StorageActor; an answer from a replaced one is
        ignored (the replacement was sent the same writes and reads, and answers them)."""
        if self._storage is not None and sender == self._storage:
            return True
        self.log.debug("ignored %r from %s, which is not the current storage", message, sender)
        return False

    def _write_failed(self, seq: int, reason: str, *, permanent: bool) -> None:
        if not permanent:
            self.log.error("a write was not committed: %s", reason)
        # The refused writes' `otherwise`s run here: their replies go out together.
        with self.coalesced_sends():
            waiting = self.store.failed(seq, reason, permanent=permanent)
        if waiting and not self._retry_armed:
            self._retry_armed = True
            self.wakeupAfter(WRITE_RETRY_DELAY_S, payload=_RetryWrites())

    def _write_refused(self, records: tuple[Record, ...], reason: str, told: bool) -> None:
        metrics.WRITES_REFUSED.labels(owner=self.owner,
                                      outcome="told" if told else "dropped").inc()
        if told:
            self.log.warning("a write was refused for good: %s", reason)
            return
        names = ", ".join(describe(record) for record in records[:5])
        more = f" and {len(records) - 5} more" if len(records) > 5 else ""
        self.log.error("a write of %s%s was refused for good and dropped, with nothing to "
                       "tell: %s", names or "no records", more, reason)

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: ActorAddress) -> None:
        if isinstance(message.payload, _RetryWrites):
            self._retry_armed = False
            self.store.retry(self._storage)
            return
        if isinstance(message.payload, _WaitedWrites):
            self._waiting_armed = False
            self.store.flush(self._storage, waited=True)  # else with the next, if one is out
            return
        super().receiveMsg_WakeupMessage(message, sender)  # the subclass's


def _last_line(details: object) -> str:
    """The exception line of the traceback Thespian puts in a PoisonMessage."""
    lines = str(details or "no details").strip().splitlines()
    line = lines[-1] if lines else "no details"
    return line.encode("utf-8", "backslashreplace").decode("utf-8")  # loggable whatever it holds
