"""Load for a chaos run: signature requests through the StreamActor, owned as the bridge would.

The driver sends `RequestSignatures` at a fixed rate through the ActorSystem
API. It owns what it sent, as the BridgeActor owns peg-outs: when the
StreamActor died (it forgot its outbox and pending requests), whatever
governance has not recorded once the dead actor's writes have settled is
sent again, with the same id. Lost and duplicated are computed from the
mock governance server's record, never from the node's own counters:

- lost: sent and never recorded by governance;
- duplicated: recorded more than once by governance.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from actors.messages import RequestQueued, RequestRejected, RequestSignatures
from protocol.mock.control_client import MockControlClient

SETTLE_S = 1.0  # after a StreamActor died, what it had written reaches governance or is gone
ASK_TIMEOUT_S = 0.2
PAUSE_AFTER_SILENCE_S = 0.5
RESEND_PER_TICK = 100


@dataclass(frozen=True)
class LoadResult:
    sent: int
    completed: int
    lost: int
    duplicated: int
    resent: int


class SignatureLoad:
    """Sends at a fixed rate; after a StreamActor restart, re-sends what governance lacks.

    Requests go by `ask` (answered `RequestQueued`), never by `tell`: an
    external `tell` to the address of an actor that just died blocks for
    about 35 s while Thespian retries, where an `ask` returns None at once.
    """

    def __init__(self, node: Any, mock: MockControlClient, *, node_id: str, run_id: str,
                 rate_per_s: float) -> None:
        self.node = node
        self.mock = mock
        self.node_id = node_id
        self.run_id = run_id
        self.interval_s = 1.0 / rate_per_s if rate_per_s > 0 else float("inf")
        self.sent_at: dict[str, float] = {}
        self.resent = 0
        self.next_at = time.monotonic()
        self.stream: Any = None
        self.stream_lost_at: float | None = None  # a restart whose losses are not yet made up
        self.paused_until = 0.0

    def request(self, request_id: str) -> RequestSignatures:
        return RequestSignatures(request_id=request_id, tx_hex="00" * 100, input_indices=(0, 1),
                                 amounts=(10_000, 20_000), tx_type="pegout",
                                 required_signatures=2)

    def _send(self, request_id: str) -> bool:
        if self.stream is None:
            self.stream = self.node.lookup("stream", timeout_s=1.0)
        # A short wait: an unanswered request may still have arrived (the record decides),
        # and a long one would stall the fault loop's recovery timing.
        reply = self.node.ask(self.stream, self.request(request_id), ASK_TIMEOUT_S,
                              expect=(RequestQueued, RequestRejected)) if self.stream else None
        self.node.unsolicited.clear()  # answers for earlier requests; the record is what counts
        if reply is None:
            self.stream = None
            self.stream_lost_at = self.stream_lost_at or time.monotonic()
            # A hung StreamActor would make every ask wait; pause and catch up later.
            self.paused_until = time.monotonic() + PAUSE_AFTER_SILENCE_S
            return False
        return True

    def tick(self) -> None:
        """Send what is due; once a lost StreamActor's writes have settled, make up for them."""
        now = time.monotonic()
        if now < self.paused_until:
            return
        while self.next_at <= now:
            request_id = f"chaos-{self.run_id}-{len(self.sent_at)}"
            self.next_at += self.interval_s
            # Sent or not (an unanswered ask may still have arrived): governance's
            # record decides, after the settle time, what goes again.
            self.sent_at[request_id] = now
            if not self._send(request_id):
                break
        if self.stream_lost_at is not None and now - self.stream_lost_at >= SETTLE_S:
            self.resend_missing(sent_before=self.stream_lost_at)

    def recorded(self) -> Counter[str]:
        requests = self.mock.record(self.node_id).get(self.node_id, [])
        return Counter(r["metadata"]["request_id"] for r in requests
                       if "signature_request" in r
                       and r["metadata"]["request_id"].startswith(f"chaos-{self.run_id}-"))

    def resend_missing(self, *, sent_before: float) -> int:
        """Re-send (same ids) what a dead StreamActor took with it."""
        recorded = self.recorded()
        missing = [rid for rid, at in self.sent_at.items()
                   if rid not in recorded and at <= sent_before]
        for request_id in missing[:RESEND_PER_TICK]:  # a slice a tick: faults keep their pace
            if not self._send(request_id):
                return 0  # gone again: the next settle covers these too
        resent = min(len(missing), RESEND_PER_TICK)
        self.resent += resent
        if resent == len(missing):
            self.stream_lost_at = None
        return resent

    def drain(self, timeout_s: float) -> LoadResult:
        """Stop sending new requests; wait until governance has them all, then count."""
        self.next_at = float("inf")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.tick()
            recorded = self.recorded()
            if all(rid in recorded for rid in self.sent_at):
                break
            if self.stream_lost_at is None:
                # Missing without a known loss: look again once they had time to settle.
                self.stream_lost_at = time.monotonic()
            time.sleep(0.5)
        recorded = self.recorded()
        completed = sum(1 for rid in self.sent_at if rid in recorded)
        return LoadResult(sent=len(self.sent_at), completed=completed,
                          lost=len(self.sent_at) - completed,
                          duplicated=sum(1 for n in recorded.values() if n > 1),
                          resent=self.resent)
