"""Load for a chaos run: peg-outs through the BridgeActor, judged from the spool file.

The driver sends `InitiatePegout` at a fixed rate through the ActorSystem
API: valid unsigned transactions for the node's own federation (the mock
governance server's, from `governance.mock`), each with its own seed, so each
with its own txid, known before it is sent. The bridge owns a peg-out once it
has answered `PegoutAccepted` (it stored it first); until then the driver owns
it, and sends it again, same request id and same content, when its ask got no
answer (the bridge accepts the same request again, idempotently).

The outcome is judged from outside the node's counters:

- lost: accepted, and its txid is not in the spool file at the end of the drain;
- duplicated: a txid of the spool with more than one line, one of them new;
- governance's record (informational): the signature requests the node made
  for this run's peg-outs (`<request_id>/<attempt>`), and the ids it made more
  than once, as it does after a StreamActor restart.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass

from thespian.actors import ActorAddress

from actors.bridge.spool import read_spool
from actors.messages import Batch, InitiatePegout, PegoutAccepted, PegoutRejected
from client import NodeClient
from harness.pegouts import Federation, txid_of, unsigned_pegout
from mock_governance.control_client import ControlRequestFailed, MockControlClient
from nodeconfig import NodeConfig

# Short: an unanswered ask may still have arrived (its answer comes late and
# still counts), and a long wait would stall the fault loop's recovery timing.
ASK_TIMEOUT_S = 0.2
LOOKUP_TIMEOUT_S = 0.5
# A dead or hung BridgeActor would make every ask wait; pause, and catch up later.
PAUSE_AFTER_SILENCE_S = 0.5
# A late answer usually follows within a commit or two; only after this long
# without one is the peg-out taken as unseen by the bridge and sent again.
RESEND_AFTER_S = 2.0
# The fault loop calls `tick` while it times a recovery: keep each call short.
TICK_BUDGET_S = 0.05
SPOOL_POLL_S = 0.5
# Peg-outs in one ask at most: after a pause the backlog goes in slices, so a
# tick stays short and the reply within the ask's timeout.
MAX_BATCH = 100
REPLIES = (PegoutAccepted, PegoutRejected, Batch)


@dataclass(frozen=True)
class LoadResult:
    sent: int  # distinct peg-outs sent at least once
    accepted: int
    rejected: int
    rejections: dict[str, int]  # reason -> peg-outs
    unanswered: int  # never answered, not even after re-sends: the bridge never took them
    completed: int  # accepted and in the spool
    broadcast: int  # this run's txids in the spool, accepted or not
    lost: int
    duplicated: int
    resent: int
    governance_requests: int | None  # None: the mock's record could not be read
    governance_repeats: int | None
    lost_ids: list[str]  # the first few, to look them up in the log


@dataclass
class _Pegout:
    message: InitiatePegout
    txid: str
    last_sent_at: float = 0.0


class PegoutFactory:
    """Unsigned peg-outs the node's federation can sign: the mock's keys, as in local mode."""

    def __init__(self, config: NodeConfig) -> None:
        mock = config.governance.mock
        federation = Federation(mock.federation_seed, mock.federation_size,
                                mock.federation_threshold)
        self.script = federation.script
        self.network = config.chain.network

    def make(self, request_id: str) -> _Pegout:
        # The seed comes from the request id, which names the run: no two peg-outs
        # of this or an earlier run on the same spool share a txid.
        seed = int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big")
        message = unsigned_pegout(request_id, self.script, seed, network=self.network)
        return _Pegout(message, txid_of(message))


class PegoutLoad:
    """Sends peg-outs at a fixed rate; re-sends the ones whose ask was not answered.

    Peg-outs go by `ask` (answered `PegoutAccepted`/`PegoutRejected`), never
    by `tell`, as the client's rule says for actors that may be killed or hung
    meanwhile: a `tell` to one blocks for up to 60 s while Thespian retries,
    where an `ask` returns None at once (dead) or after its timeout (hung).
    """

    def __init__(self, node: NodeClient, mock: MockControlClient, config: NodeConfig, *,
                 run_id: str, rate_per_s: float) -> None:
        self.node = node
        self.mock = mock
        self.node_id = config.node.id
        self.spool_path = config.bridge.broadcaster.spool_path
        self.prefix = f"chaos-{run_id}-"
        self.factory = PegoutFactory(config)
        self.interval_s = 1.0 / rate_per_s if rate_per_s > 0 else float("inf")
        self.pegouts: dict[str, _Pegout] = {}
        self.unanswered: dict[str, _Pegout] = {}  # insertion order: oldest send first
        self.accepted: set[str] = set()
        self.rejected: dict[str, str] = {}
        self.resent = 0
        self.bridge: ActorAddress | None = None
        self.paused_until = 0.0
        # What the spool held before: a txid that was there twice already is no
        # duplicate of this run's making.
        self.spool_before = self.spooled()
        self.next_at = time.monotonic()

    # -- sending ----------------------------------------------------------------------

    def tick(self) -> None:
        """Send what is due, then what went unanswered long enough ago, within a budget."""
        self._take_unsolicited()
        now = time.monotonic()
        if now < self.paused_until:
            return
        budget_end = now + TICK_BUDGET_S
        while time.monotonic() < budget_end:
            batch = self._due(now)
            if not batch or not self._send(batch):
                return

    def _due(self, now: float) -> list[_Pegout]:
        """New peg-outs whose time has come, then the oldest unanswered ones, up to a batch."""
        batch: list[_Pegout] = []
        while self.next_at <= now and len(batch) < MAX_BATCH:
            pegout = self.factory.make(f"{self.prefix}{len(self.pegouts)}")
            self.pegouts[pegout.message.request_id] = pegout
            self.next_at += self.interval_s
            batch.append(pegout)
        for pegout in self.unanswered.values():  # oldest send first
            if len(batch) >= MAX_BATCH or now - pegout.last_sent_at < RESEND_AFTER_S:
                break
            batch.append(pegout)
        return batch

    def _send(self, batch: list[_Pegout]) -> bool:
        """Ask the bridge; True if it answered (this ask, or a late answer to an earlier one).

        What is due goes in one ask, as a `Batch` if more than one: one round
        trip and one commit for all of them, where one ask each would wait for
        a commit each and fall behind the rate.
        """
        if self.bridge is None:
            self.bridge = self.node.find("bridge", timeout_s=LOOKUP_TIMEOUT_S)
        sent_at = time.monotonic()
        for pegout in batch:
            rid = pegout.message.request_id
            self.resent += 1 if pegout.last_sent_at else 0
            pegout.last_sent_at = sent_at
            self.unanswered[rid] = self.unanswered.pop(rid, pegout)  # to the back: newest
        ids = [pegout.message.request_id for pegout in batch]
        if self.bridge is not None:
            message = batch[0].message if len(batch) == 1 else Batch(
                tuple(pegout.message for pegout in batch))
            reply = self.node.try_ask(self.bridge, message, REPLIES, ASK_TIMEOUT_S)
            # The first reply may be a late one for earlier peg-outs: it counts, and
            # the wait for this batch's goes on.
            while reply is not None:
                self._take(reply)
                if not any(rid in self.unanswered for rid in ids):
                    return True
                remaining = sent_at + ASK_TIMEOUT_S - time.monotonic()
                reply = self.node.listen(remaining) if remaining > 0 else None
            if not all(rid in self.unanswered for rid in ids):
                return True  # alive, only slow with the rest: their answers may come late
        self.bridge = None  # dead, hung or busy: look it up again after the pause
        self.paused_until = time.monotonic() + PAUSE_AFTER_SILENCE_S
        return False

    # -- answers ----------------------------------------------------------------------

    def _take(self, message: object) -> None:
        if isinstance(message, Batch):  # one commit released several answers to us
            for item in message.items:
                self._take(item)
        elif isinstance(message, PegoutAccepted | PegoutRejected):
            rid = message.request_id
            if rid not in self.pegouts:
                return
            self.unanswered.pop(rid, None)
            if isinstance(message, PegoutAccepted):
                self.accepted.add(rid)
            else:
                self.rejected[rid] = message.reason
        # Anything else is a late answer to the fault loop's asks (Pong, ActorRef): not ours.

    def _take_unsolicited(self) -> None:
        """Answers that came in while someone else asked (the fault loop's pings) count."""
        for message in self.node.take_unsolicited():
            self._take(message)

    def listen(self, seconds: float) -> None:
        """Take the answers that come within `seconds` (late ones to earlier asks count)."""
        until = time.monotonic() + seconds
        while (remaining := until - time.monotonic()) > 0:
            reply = self.node.listen(remaining)
            if reply is None:
                return
            self._take(reply)

    # -- judging ----------------------------------------------------------------------

    def spooled(self) -> Counter[str]:
        try:
            return Counter(entry.txid for entry in read_spool(self.spool_path))
        except FileNotFoundError:
            return Counter()  # nothing broadcast yet on a fresh node

    def _all_in(self, spooled: Counter[str]) -> bool:
        return not self.unanswered and all(self.pegouts[rid].txid in spooled
                                           for rid in self.accepted)

    def governance(self) -> tuple[int, int] | None:
        """Signature requests recorded for this run's peg-outs, and ids recorded twice or more."""
        try:
            requests = self.mock.record(self.node_id).get(self.node_id, [])
        except (OSError, ControlRequestFailed):
            return None  # informational only: a run is judged by the spool
        ids = Counter(r["metadata"]["request_id"] for r in requests
                      if "signature_request" in r
                      and r["metadata"]["request_id"].startswith(self.prefix))
        return sum(ids.values()), sum(1 for n in ids.values() if n > 1)

    def drain(self, timeout_s: float) -> LoadResult:
        """Stop new peg-outs; wait until each is answered and each accepted one is spooled."""
        self.next_at = float("inf")
        deadline = time.monotonic() + timeout_s
        while True:
            self.tick()  # re-sends what is still unanswered
            spooled = self.spooled()
            if self._all_in(spooled) or time.monotonic() >= deadline:
                break
            self.listen(SPOOL_POLL_S)
        self._take_unsolicited()
        return self.result(self.spooled())

    def result(self, spooled: Counter[str]) -> LoadResult:
        txid_of = {rid: p.txid for rid, p in self.pegouts.items()}
        lost = sorted((rid for rid in self.accepted if txid_of[rid] not in spooled),
                      key=lambda rid: int(rid.rsplit("-", 1)[1]))
        duplicated = sum(1 for txid, n in spooled.items()
                         if n > 1 and n > self.spool_before.get(txid, 0))
        governance = self.governance()
        return LoadResult(
            sent=len(self.pegouts), accepted=len(self.accepted), rejected=len(self.rejected),
            rejections=dict(Counter(self.rejected.values()).most_common()),
            unanswered=len(self.unanswered),
            completed=len(self.accepted) - len(lost),
            broadcast=sum(1 for txid in txid_of.values() if txid in spooled),
            lost=len(lost), duplicated=duplicated, resent=self.resent,
            governance_requests=governance[0] if governance else None,
            governance_repeats=governance[1] if governance else None,
            lost_ids=lost[:20],
        )
