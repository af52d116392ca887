"""Outbound priorities match governance's RequestPriority enum."""

from __future__ import annotations

from actors.stream.priorities import PRIORITY_BY_KIND, RequestPriority
from protocol import governance_pb2


def test_priorities_have_the_values_of_the_proto_enum() -> None:
    for priority in RequestPriority:
        wire_value = governance_pb2.RequestPriority.Value(f"REQUEST_PRIORITY_{priority.name}")
        assert wire_value == priority


def test_registration_outranks_signatures_which_outrank_pegins_then_status() -> None:
    kinds = sorted(PRIORITY_BY_KIND, key=PRIORITY_BY_KIND.__getitem__, reverse=True)
    assert kinds == ["registration", "signature", "pegin", "status", "push_ack"]


def test_push_acknowledgements_never_outrank_a_request_whose_loss_costs_the_node() -> None:
    # Governance repairs a lost acknowledgement itself (it pushes again): lowest priority.
    assert PRIORITY_BY_KIND["push_ack"] == min(PRIORITY_BY_KIND.values())


def test_heartbeats_have_no_priority_because_they_are_never_buffered() -> None:
    assert "heartbeat" not in PRIORITY_BY_KIND
