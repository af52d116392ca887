"""The ChainActor when what it decided cannot be stored: it forgets it, says why, and goes on.

The actor's handlers are called directly, without an actor system: its sends are recorded
and the StorageActor's answers are given by hand.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from actors.chain.actor import ChainActor
from actors.chain.book import record_for
from actors.messages import AdvanceHeight, Handled, Member, ProposalReceived, UpdateFederation
from actors.storage.limits import INT64_MAX
from actors.storage.protocol import _Persist, _Persisted
from actors.storage.records import FederationRecord, InboundHandled, MetaValue, ProposalRecord
from btc.federation import Federation
from mock_governance.federation import federation_keys

pytestmark = pytest.mark.timeout(30)

NETWORK = "regtest"
STORAGE = "storage"
STREAM = "stream"
KEYS = federation_keys("not-stored", 4)
MEMBERS = tuple(Member(f"m{index}", key) for index, key in enumerate(KEYS))


class RecordingChain(ChainActor):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Any, Any]] = []

    def send(self, targetAddr: Any, msg: object) -> None:
        self.sent.append((targetAddr, msg))

    def commit(self) -> None:
        """Answer every `_Persist` sent so far, as the StorageActor does after its commit."""
        for _, message in list(self.sent):
            if isinstance(message, _Persist):
                self.sent.remove((STORAGE, message))
                self.receiveMessage(_Persisted(self.owner, message.seq), STORAGE)

    def replies(self, to: str) -> list[object]:
        return [message for address, message in self.sent if address == to]

    def stored(self) -> list[object]:
        return [record for _, message in self.sent if isinstance(message, _Persist)
                for record in message.records]


@pytest.fixture
def chain() -> RecordingChain:
    actor = RecordingChain()
    actor.config = SimpleNamespace(  # type: ignore[assignment]  # only what the handlers read
        chain=SimpleNamespace(network=NETWORK, governance_pubkey="", allow_advance_height=True),
        governance=SimpleNamespace(mock=SimpleNamespace(enabled=False)))
    actor.peers = {"storage": STORAGE, "stream": STREAM}  # as the tree's `_Peers` sets them
    actor.loaded = True
    actor._storage = STORAGE
    first = record_for(Federation(0, MEMBERS, 3), update_type="config_change",
                       effective_height=0, height=0, network=NETWORK, request_id=None,
                       now_s=1.0)
    actor.book.add(first)
    return actor


def update(request_id: str, version: int, effective_height: int) -> UpdateFederation:
    return UpdateFederation(request_id, "config_change", version, MEMBERS, 2, effective_height,
                            None, b"")


def test_an_update_that_cannot_be_stored_is_rejected_and_the_same_version_can_come_again(
        chain: RecordingChain) -> None:
    chain.receiveMessage(update("fed-never", 1, 2**64 - 1), STREAM)
    assert chain.book.scheduled == {} and chain.book.latest_version == 0
    assert (chain.handled.get("fed-never") or "").startswith(
        "rejected: not stored: FederationRecord 1: effective_height is 18446744073709551615")
    [rejection] = chain.stored()
    assert isinstance(rejection, InboundHandled) and rejection.request_id == "fed-never"
    chain.commit()
    assert chain.replies(STREAM) == [Handled("fed-never")]

    chain.receiveMessage(update("fed-next", 1, 0), STREAM)
    assert chain.book.current is not None and chain.book.current.version == 1
    assert [type(r) for r in chain.stored()] == [FederationRecord, InboundHandled]
    chain.commit()
    assert chain.replies(STREAM) == [Handled("fed-never"), Handled("fed-next")]


def test_a_height_past_int64_is_ignored_and_the_next_one_is_stored(
        chain: RecordingChain) -> None:
    chain.receiveMessage(AdvanceHeight(INT64_MAX + 1), "client")
    assert chain.height == 0 and chain.stored() == []
    chain.receiveMessage(AdvanceHeight(INT64_MAX), "client")
    assert chain.height == INT64_MAX
    assert chain.stored() == [MetaValue("height", str(INT64_MAX), revision=INT64_MAX)]


def test_a_proposal_that_cannot_be_stored_is_not_listed_but_is_handled(
        chain: RecordingChain) -> None:
    chain.receiveMessage(ProposalReceived("prop-never", "upgrade", b"", INT64_MAX + 1, 3),
                         STREAM)
    assert len(chain.proposals) == 0 and chain.stored() == []
    assert chain.replies(STREAM) == [Handled("prop-never")]
    chain.receiveMessage(ProposalReceived("prop-next", "upgrade", b"", 1900000000, 3), STREAM)
    assert [type(r) for r in chain.stored()] == [ProposalRecord]
    chain.commit()
    assert chain.replies(STREAM) == [Handled("prop-never"), Handled("prop-next")]
