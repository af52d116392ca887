"""One peg-out is one trace across the bridge, storage and stream processes, every span
under a parent that is in the trace; a governance push is a trace of its own. The spans
reach a real OTLP/HTTP receiver on loopback, exported by each actor process."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from actors.messages import PegoutAccepted, PegoutRejected, PegoutState
from harness.waiting import wait_until
from tests.support.otlp import ReceivedSpan, otlp_receiver
from tests.support.pegouts import initiate, pegout, pegout_node, wait_pegout

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def trace_of(spans: list[ReceivedSpan], request_id: str) -> list[ReceivedSpan]:
    """Every span in the trace of the peg-out `request_id`, once its root span ended."""
    roots = [s for s in spans if s.name == "pegout" and s.attributes.get("request_id")
             == request_id]
    if not roots:
        return []
    return [s for s in spans if s.trace_id == roots[0].trace_id]


def complete(trace: list[ReceivedSpan]) -> bool:
    names = Counter(s.name for s in trace)
    return (names["storage.commit"] >= 3 and names["bridge.broadcast"] == 1
            and names["governance.signature_request"] == 1
            and names["bridge.ApplySignatures"] == 1)


def test_one_pegout_is_one_trace_across_bridge_storage_and_stream(tmp_path: Path) -> None:
    with otlp_receiver() as (url, receiver), \
            pegout_node(tmp_path, tracing={"endpoint": url, "sample_ratio": 1.0}) as (node, _):
        request = pegout("po-traced", seed=11)
        assert initiate(node, [request]) == [PegoutAccepted("po-traced")]
        wait_pegout(node, "po-traced", PegoutState.BROADCAST.value)
        trace = wait_until(lambda: (lambda t: t if complete(t) else None)(
                               trace_of(receiver.spans(), "po-traced")),
                           timeout=30, message=lambda: "the peg-out's trace never completed: "
                           f"{sorted(s.name for s in receiver.spans())}")

    assert receiver.refused == []
    ids = {s.span_id for s in trace}
    roots = [s for s in trace if not s.parent_span_id]
    assert [s.name for s in roots] == ["pegout"]
    # Correctly parented: every span's parent is a span of the same trace.
    assert all(s.parent_span_id in ids for s in trace if s is not roots[0])
    by_id = {s.span_id: s for s in trace}
    parent = {s.name: by_id[s.parent_span_id].name for s in trace if s.parent_span_id}
    assert parent["bridge.InitiatePegout"] == "pegout"
    assert parent["governance.signature_request"] == "stream.RequestSignatures"
    assert parent["stream.RequestSignatures"] == "pegout"
    assert parent["bridge.ApplySignatures"] == "governance.signature_request"
    assert parent["bridge.broadcast"] == "pegout"
    assert {by_id[s.parent_span_id].name for s in trace if s.name == "storage.commit"} \
        == {"pegout"}
    actors = {s.name: s.actor for s in trace}
    assert {actors["pegout"], actors["bridge.ApplySignatures"], actors["bridge.broadcast"]} \
        == {"bridge"}
    assert actors["storage.commit"] == "storage"
    assert actors["governance.signature_request"] == "stream"
    assert len({s.pid for s in trace}) == 3  # three processes
    # The report of the run (the notes quote it): each span, its process and duration.
    for span in sorted(trace, key=lambda s: s.start_ns):
        print(f"{span.name:32} {span.actor:8} {span.duration_ms:9.3f} ms")


def test_a_finished_pegout_requested_again_ends_the_trace_its_request_began(
        tmp_path: Path) -> None:
    with otlp_receiver() as (url, receiver), \
            pegout_node(tmp_path, tracing={"endpoint": url}) as (node, _):
        request = pegout("po-again", seed=12)
        assert initiate(node, [request]) == [PegoutAccepted("po-again")]
        wait_pegout(node, "po-again", PegoutState.BROADCAST.value)
        wait_until(lambda: len(roots_of(receiver.spans(), "po-again")) == 1, timeout=30,
                   message="the peg-out's own trace did not end")
        # The client asks again (a retry after a lost answer): accepted again, and the
        # request's own trace ends with it instead of staying open in the bridge.
        assert initiate(node, [request]) == [PegoutAccepted("po-again")]
        again = wait_until(lambda: (lambda roots: roots[1:] or None)(
                               roots_of(receiver.spans(), "po-again")),
                           timeout=30, message="the repeated request's trace never ended")
    assert [span.attributes.get("alys.outcome") for span in again] == ["already_stored"]


def test_a_request_refused_as_a_duplicate_leaves_the_live_pegout_s_trace_open(
        tmp_path: Path) -> None:
    with otlp_receiver() as (url, receiver), \
            pegout_node(tmp_path, tracing={"endpoint": url}) as (node, mock):
        mock.behave(hold_signatures=True)
        assert initiate(node, [pegout("po-live", seed=13)]) == [PegoutAccepted("po-live")]
        wait_pegout(node, "po-live", PegoutState.AWAITING_SIGNATURES.value)
        # Other content under the live peg-out's id: refused, and its trace goes on.
        [refused] = initiate(node, [pegout("po-live", seed=14)])
        assert isinstance(refused, PegoutRejected) and refused.kind == "duplicate"
        mock.behave(hold_signatures=False)
        mock.release()
        wait_pegout(node, "po-live", PegoutState.BROADCAST.value)
        [root] = wait_until(lambda: roots_of(receiver.spans(), "po-live"), timeout=30,
                            message="the peg-out's trace did not end")
    assert root.attributes.get("alys.outcome") == "broadcast"


def roots_of(spans: list[ReceivedSpan], request_id: str) -> list[ReceivedSpan]:
    return sorted((s for s in spans if s.name == "pegout"
                   and s.attributes.get("request_id") == request_id),
                  key=lambda s: s.start_ns)


def test_a_governance_push_is_a_trace_of_its_own_through_chain_and_storage(
        tmp_path: Path) -> None:
    chain = {"height_source": {"kind": "clock", "slot_s": 3600}}
    with otlp_receiver() as (url, receiver), \
            pegout_node(tmp_path, chain=chain, tracing={"endpoint": url}) as (_, mock):
        mock.push_federation_update(version=1, indices=list(range(5)), threshold=3,
                                    request_id="fed-traced")

        def pushed() -> list[ReceivedSpan] | None:
            spans = receiver.spans()
            roots = [s for s in spans if s.name == "governance.push"
                     and s.attributes.get("request_id") == "fed-traced"]
            trace = [s for s in spans if roots and s.trace_id == roots[0].trace_id]
            return trace if {"chain.UpdateFederation", "storage.commit"} <= {
                s.name for s in trace} else None

        trace = wait_until(pushed, timeout=30, message=lambda: "the push's trace never "
                           f"completed: {sorted(s.name for s in receiver.spans())}")

    by_id = {s.span_id: s for s in trace}
    assert [s.name for s in trace if not s.parent_span_id] == ["governance.push"]
    assert all(s.parent_span_id in by_id for s in trace if s.parent_span_id)
    chain_span = next(s for s in trace if s.name == "chain.UpdateFederation")
    assert (chain_span.actor, by_id[chain_span.parent_span_id].actor) == ("chain", "stream")
    commits = [s for s in trace if s.name == "storage.commit"]
    assert {by_id[s.parent_span_id].name for s in commits} == {"chain.UpdateFederation"}
    assert {s.actor for s in commits} == {"storage"}
    assert not any(s.name == "pegout" for s in trace)
