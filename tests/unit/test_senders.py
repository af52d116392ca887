"""Who may say what (actors/senders.py): the table, the verdicts, the held queue, and a
NodeActor that holds a restarted peer's early message until the directory names it.

No actor system: addresses are strings, the actor's handlers are driven by hand and its
clock is a variable.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from thespian.actors import WakeupMessage

from actors.base import NodeActor
from actors.lifecycle import _Peers, _Shutdown, _Start
from actors.messages import (
    AdvanceHeight,
    ApplySignatures,
    Delivered,
    FederationChanged,
    GetChainStatus,
    GetPegoutStatus,
    GovernanceError,
    Handled,
    ListPegouts,
    NotifyPegin,
    PegoutCompleted,
    Ping,
    RequestTimedOut,
    ResetOutflowWindow,
    ResolvePegout,
    RetryPegout,
    UpdateFederation,
)
from actors.senders import (
    SENDERS,
    SUPERVISOR,
    HeldMessages,
    Verdict,
    advance_height_allowed,
    judge,
    rules_for,
)
from actors.storage.protocol import _Fetch, _Load, _Persist, _Persisted
from runtime import metrics

pytestmark = pytest.mark.timeout(30)

PEERS = {"bridge": "bridge-1", "chain": "chain-1", "stream": "stream-1", "storage": "storage-1"}
SUP = "supervisor-1"
ME = "me-1"
CHANGED = FederationChanged(7, (), 1, b"", "bcrt1q-address", halted=True)


def verdict(actor: str, message: object, sender: str, peers: dict[str, str] = PEERS,
            supervisor: str | None = SUP) -> Verdict:
    rule = rules_for(actor).get(type(message))
    if rule is None:
        return Verdict.ACCEPT
    return judge(rule, message, sender, peers, supervisor, ME)


# -- the table ------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "message", "sender"), [
    ("bridge", CHANGED, "chain-1"),
    ("bridge", Handled("p/1"), "chain-1"),
    ("bridge", ApplySignatures("p/1", "complete", (), None), "stream-1"),
    ("bridge", RequestTimedOut("p/1"), "stream-1"),
    ("bridge", GovernanceError("p/1", "x", "y"), "stream-1"),
    ("bridge", Delivered("p/1"), "stream-1"),
    ("bridge", _Persisted("bridge", 1), "storage-1"),
    ("chain", UpdateFederation("f", "member_add", 1, (), 1, 0, None, b""), "stream-1"),
    ("chain", PegoutCompleted("p", "txid"), "bridge-1"),
    ("storage", _Persist("bridge", 1, ()), "bridge-1"),
    ("storage", _Persist("chain", 1, ()), "chain-1"),
    ("storage", _Load("chain"), "chain-1"),
    ("storage", _Fetch("bridge", 1), "bridge-1"),
    ("stream", Handled("p/1"), "chain-1"),
    ("bridge", _Peers(()), SUP),
    ("chain", _Shutdown(), SUP),
    ("stream", WakeupMessage(1.0, None), ME),
])
def test_what_changes_state_is_accepted_from_the_peer_the_tree_named(
        actor: str, message: object, sender: str) -> None:
    assert verdict(actor, message, sender) is Verdict.ACCEPT


@pytest.mark.parametrize(("actor", "message", "sender"), [
    ("bridge", CHANGED, "client"),
    ("bridge", CHANGED, "stream-1"),  # a peer, but not the one that announces federations
    ("bridge", ApplySignatures("p/1", "complete", (), None), "client"),
    ("bridge", _Persisted("bridge", 1), "storage-0"),  # a replaced StorageActor
    ("chain", PegoutCompleted("p", "txid"), "client"),
    ("chain", UpdateFederation("f", "member_add", 1, (), 1, 0, None, b""), "bridge-1"),
    ("storage", _Persist("chain", 1, ()), "bridge-1"),  # the bridge writing as the chain
    ("storage", _Load("bridge"), "client"),
    ("stream", Handled("p/1"), "client"),
])
def test_what_changes_state_from_another_address_is_held_for_the_next_directory(
        actor: str, message: object, sender: str) -> None:
    assert verdict(actor, message, sender) is Verdict.HOLD


@pytest.mark.parametrize("message", [_Peers(()), _Shutdown(), _Start("x", None, "s", None),  # type: ignore[arg-type]
                                     WakeupMessage(1.0, None)])
def test_what_only_the_supervisor_or_the_actor_itself_says_is_dropped_at_once(
        message: object) -> None:
    # Their addresses never move: no newer directory can name another sender.
    assert verdict("bridge", message, "client") is Verdict.DROP


def test_a_storage_message_in_the_name_of_no_owner_is_dropped_at_once() -> None:
    assert verdict("storage", _Persist("somebody", 1, ()), "bridge-1") is Verdict.DROP


def test_before_its_start_an_actor_takes_the_tree_messages_from_whoever_sends_its_start(
        ) -> None:
    assert verdict("chain", _Start("chain", None, "s", None), "anyone",  # type: ignore[arg-type]
                   supervisor=None) is Verdict.ACCEPT


@pytest.mark.parametrize("message", [
    GetPegoutStatus("p"),
    ListPegouts(), RetryPegout("p"), ResolvePegout("p", "paid"),
    ResetOutflowWindow("why"), NotifyPegin("p", "ab" * 32, 0, 1, "0x00", 6), Ping(1),
])
def test_client_messages_are_open_to_any_sender(message: object) -> None:
    assert verdict("bridge", message, "client") is Verdict.ACCEPT


@pytest.mark.parametrize("message", [GetChainStatus(), AdvanceHeight(5), Ping(1)])
def test_the_chains_client_messages_are_open_too(message: object) -> None:
    # AdvanceHeight is judged by the config instead (advance_height_allowed).
    assert verdict("chain", message, "client") is Verdict.ACCEPT


def test_every_restricted_sender_is_a_name_of_the_tree() -> None:
    names = {"bridge", "chain", "stream", "storage"}
    for rules in SENDERS.values():
        for rule in rules.values():
            assert rule.names <= names | {SUPERVISOR}, rule


@pytest.mark.parametrize(("allow", "mock", "expected"), [
    (None, True, True), (None, False, False), (True, False, True), (False, True, False),
])
def test_advance_height_is_on_in_local_mode_unless_the_config_says_otherwise(
        allow: bool | None, mock: bool, expected: bool) -> None:
    config: Any = SimpleNamespace(chain=SimpleNamespace(allow_advance_height=allow),
                                  governance=SimpleNamespace(mock=SimpleNamespace(enabled=mock)))
    assert advance_height_allowed(config) is expected


# -- the held queue ---------------------------------------------------------------------


def test_a_newer_directory_releases_what_it_names_in_arrival_order_and_keeps_the_rest(
        ) -> None:
    held = HeldMessages(cap=10, hold_s=5.0)
    for index, sender in enumerate(["chain-2", "client", "chain-2"]):
        assert held.hold(index, sender, now_s=float(index))
    accepted = held.release(lambda h: h.sender == "chain-2")
    assert [h.message for h in accepted] == [0, 2]
    assert [(h.message, h.sender) for h in held] == [(1, "client")]


def test_a_full_held_queue_refuses_more() -> None:
    held = HeldMessages(cap=2, hold_s=5.0)
    assert held.hold("a", "x", 0.0) and held.hold("b", "x", 0.0)
    assert not held.hold("c", "x", 0.0)
    assert [h.message for h in held] == ["a", "b"]


def test_held_messages_expire_after_hold_s_oldest_first() -> None:
    held = HeldMessages(cap=10, hold_s=5.0)
    held.hold("a", "x", 0.0)
    held.hold("b", "x", 3.0)
    assert held.expire(4.9) == []
    assert [h.message for h in held.expire(5.0)] == ["a"]
    assert [h.message for h in held.expire(8.0)] == ["b"]


# -- an actor that holds ------------------------------------------------------------------


class FakeBridge(NodeActor):
    """A NodeActor named bridge that records what it handled and what it sent."""

    name = "bridge"

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[tuple[object, str]] = []
        self.now_s = 0.0
        self.clock = lambda: self.now_s
        self.supervisor_address = SUP  # type: ignore[assignment]
        self.lines: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: self.lines.append(record.getMessage())  # type: ignore[method-assign]
        self.log = logging.getLogger("test-senders-fake-bridge")
        self.log.handlers = [handler]
        self.log.setLevel(logging.DEBUG)
        self.log.propagate = False

    def receiveMsg_FederationChanged(self, message: FederationChanged, sender: Any) -> None:
        self.handled.append((message, sender))

    def directory(self, version: int, chain: str) -> None:
        self.receiveMessage(_Peers((("chain", chain), ("stream", "stream-1")), version), SUP)


def refused(message: str) -> float:
    return metrics.MESSAGES_REFUSED.labels(actor="bridge", message=message)._value.get()


def held_count(message: str) -> float:
    return metrics.MESSAGES_HELD.labels(actor="bridge", message=message)._value.get()


def test_a_restarted_peers_early_message_is_held_and_handled_once_the_directory_names_it(
        ) -> None:
    bridge = FakeBridge()
    bridge.directory(1, "chain-1")
    before = held_count("FederationChanged")

    bridge.receiveMessage(CHANGED, "chain-2")  # the new chain, ahead of the new directory
    assert bridge.handled == []
    assert held_count("FederationChanged") == before + 1

    bridge.directory(2, "chain-2")
    assert bridge.handled == [(CHANGED, "chain-2")]
    assert len(bridge.held) == 0


def test_a_held_message_no_directory_names_stays_held_then_is_dropped_counted_and_logged(
        ) -> None:
    # A fresh actor is sent every directory made since its creation, oldest first: the
    # next one may predate the sender, so only time ends the wait.
    bridge = FakeBridge()
    bridge.directory(1, "chain-1")
    before = refused("FederationChanged")

    bridge.receiveMessage(CHANGED, "client-9")
    bridge.directory(2, "chain-2")
    assert bridge.handled == [] and len(bridge.held) == 1
    bridge.now_s = bridge.held.hold_s
    bridge.directory(3, "chain-2")

    assert bridge.handled == [] and len(bridge.held) == 0
    assert refused("FederationChanged") == before + 1
    assert any("refused a FederationChanged from client-9" in line for line in bridge.lines)


def test_a_restarted_peers_message_waits_through_older_directories_for_the_one_naming_it(
        ) -> None:
    bridge = FakeBridge()
    bridge.directory(1, "chain-1")
    bridge.receiveMessage(CHANGED, "chain-3")
    bridge.directory(2, "chain-2")  # made before chain-3 answered its supervisor
    assert bridge.handled == []
    bridge.directory(3, "chain-3")
    assert bridge.handled == [(CHANGED, "chain-3")]


def test_an_older_directory_releases_nothing() -> None:
    bridge = FakeBridge()
    bridge.directory(2, "chain-1")
    bridge.receiveMessage(CHANGED, "chain-2")
    bridge.directory(1, "chain-2")  # overtaken: ignored, and the message stays held
    assert bridge.handled == [] and len(bridge.held) == 1


def test_a_held_message_no_directory_names_in_time_is_dropped_at_the_next_message() -> None:
    bridge = FakeBridge()
    bridge.directory(1, "chain-1")
    before = refused("FederationChanged")
    bridge.receiveMessage(CHANGED, "client-9")
    bridge.now_s = bridge.held.hold_s
    bridge.receiveMessage(GetPegoutStatus("p"), "client-9")  # any message: a health ping
    assert len(bridge.held) == 0
    assert refused("FederationChanged") == before + 1


def test_a_directory_from_anyone_but_the_supervisor_is_refused_at_once() -> None:
    bridge = FakeBridge()
    bridge.directory(1, "chain-1")
    before = refused("_Peers")
    bridge.receiveMessage(_Peers((("chain", "evil"),), 9), "client-9")
    assert bridge.peers["chain"] == "chain-1" and len(bridge.held) == 0
    assert refused("_Peers") == before + 1


def test_a_full_held_queue_drops_what_comes_next() -> None:
    bridge = FakeBridge()
    bridge.held = HeldMessages(cap=1)
    bridge.directory(1, "chain-1")
    before = refused("FederationChanged")
    bridge.receiveMessage(CHANGED, "client-1")
    bridge.receiveMessage(CHANGED, "client-2")
    assert refused("FederationChanged") == before + 1
    assert [h.sender for h in bridge.held] == ["client-1"]
