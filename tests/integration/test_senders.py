"""Who may say what, on a running node: what only a peer or a supervisor may say, told by
a client instead, is refused (counted, logged, nothing changes); what clients may say
still works; `AdvanceHeight` only where the config allows it.

A restarted peer's early message, held and then accepted, is shown without an actor
system in tests/unit/test_senders.py: a live node cannot be made to lose that race on
purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.lifecycle import _GetPeers, _Peers
from actors.messages import (
    FederationChanged,
    GetPegoutStatus,
    Handled,
    PegoutCompleted,
    PegoutStatus,
)
from actors.storage.protocol import _Persist, _Persisted
from actors.storage.records import MetaValue
from harness.nodes import LocalNode, log_text, running_node
from harness.waiting import wait_until
from tests.support.pegouts import chain_status, query

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

SLOW_CLOCK = {"height_source": {"kind": "clock", "slot_s": 3600}}
HALT = FederationChanged(99, (), 1, b"", "bcrt1q-forged", halted=True)


def sample(name: str) -> float:
    """A sample of the node's /metrics exposition (`name` with its labels); 0 if absent."""
    from runtime import metrics  # after the node set its metrics directory

    for line in metrics.exposition().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.removeprefix(name + " "))
    return 0.0


def refused(actor: str, message: str) -> float:
    return sample(f'alys_actor_messages_refused_total{{actor="{actor}",message="{message}"}}')


def wait_refused(node: LocalNode, actor: str, message: str) -> None:
    """The drop is counted, and logged with the message type and its sender."""
    wait_until(lambda: refused(actor, message) >= 1, timeout=30,
               message=f"{actor} did not count a refused {message}")
    wait_until(lambda: f"refused a {message} from " in log_text(node.config), timeout=10,
               message=f"no log line for the refused {message}")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_node(tmp_path, chain=SLOW_CLOCK) as node:
        wait_until(lambda: chain_status(node).federation_version == 0, timeout=30,
                   message="the chain never put its first federation in force")
        yield node


def test_state_changing_messages_from_a_client_are_refused_and_change_nothing(
        node: LocalNode) -> None:
    assert "refused a " not in log_text(node.config)  # the tree's own messages all pass
    bridge, chain, storage = (node.client.lookup(n) for n in ("bridge", "chain", "storage"))

    # A forged emergency halt: the bridge would answer Handled and stop every peg-out.
    node.client.tell(bridge, HALT)
    # A forged completion, and a forged commit of a write the bridge never made.
    node.client.tell(chain, PegoutCompleted("never", "00" * 32))
    node.client.tell(bridge, _Persisted("bridge", 1))
    # A forged write of the chain's height, in the chain's name.
    node.client.tell(storage, _Persist("chain", 1, (MetaValue("height", "999999",
                                                               revision=999999),)))
    # A forged directory that would point the bridge's chain at us.
    node.client.tell(bridge, _Peers((("chain", node.client.lookup("stream")),), 10**9))

    wait_refused(node, "bridge", "FederationChanged")
    wait_refused(node, "chain", "PegoutCompleted")
    wait_refused(node, "bridge", "_Persisted")
    wait_refused(node, "storage", "_Persist")
    wait_refused(node, "bridge", "_Peers")

    assert sample("alys_bridge_halted") == 0
    assert sample("alys_chain_pegouts_completed_total") == 0
    assert query(node, "SELECT value FROM meta WHERE key = 'height'") != [("999999",)]
    peers = node.client.ask(bridge, _GetPeers(), _Peers)
    assert dict(peers.addresses)["chain"] == chain
    # Nothing the refused messages would have answered came back.
    assert node.client.try_ask(bridge, GetPegoutStatus("never"), PegoutStatus) is not None
    assert not any(isinstance(m, Handled) for m in node.client.mailbox.unsolicited)
    # Clients' own messages still work, and so does AdvanceHeight in local mode.
    status = node.client.advance_height(12)
    assert (status.height, status.refused) == (12, None)


def test_advance_height_is_refused_with_a_reason_when_the_config_turns_it_off(
        tmp_path: Path) -> None:
    with running_node(tmp_path, chain={**SLOW_CLOCK, "allow_advance_height": False}) as node:
        wait_until(lambda: chain_status(node).federation_version == 0, timeout=30)
        before = chain_status(node).height
        status = node.client.advance_height(before + 1000)
        assert status.height == before
        assert status.refused is not None and "allow_advance_height" in status.refused
        assert refused("chain", "AdvanceHeight") == 1
