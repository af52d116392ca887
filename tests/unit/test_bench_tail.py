"""`python -m bench.tail`: a traced peg-out split into its steps."""

from bench.tail import Span, by_trace, decode, phase_of, phase_roots, steps, table

MS = 1_000_000  # ns


def span(name: str, start_ms: float, end_ms: float, trace: bytes = b"t1") -> Span:
    return Span(name, trace, b"", int(start_ms * MS), int(end_ms * MS))


def test_a_trace_is_its_spans_and_the_gaps_before_them():
    trace = [span("pegout", 0, 20), span("bridge.InitiatePegout", 0.5, 1),
             span("storage.commit", 3, 4), span("storage.commit", 10, 12),
             span("bridge.broadcast", 15, 20)]
    assert steps(trace) == {
        "total": 20.0,
        "  -> bridge.InitiatePegout": 0.5, "bridge.InitiatePegout": 0.5,
        "  -> storage.commit": 2.0, "storage.commit": 1.0,
        "  -> storage.commit #2": 6.0, "storage.commit #2": 2.0,
        "  -> bridge.broadcast": 3.0, "bridge.broadcast": 5.0,
        "  -> end of the trace": 0.0,
    }


def test_a_span_inside_another_has_no_gap_and_the_gap_after_counts_from_the_later_end():
    trace = [span("pegout", 0, 10), span("stream.RequestSignatures", 1, 2),
             span("governance.signature_request", 1.5, 6), span("bridge.ApplySignatures", 7, 8)]
    found = steps(trace)
    assert found is not None
    assert found["  -> governance.signature_request"] == 0.0
    assert found["  -> bridge.ApplySignatures"] == 1.0
    assert found["  -> end of the trace"] == 2.0


def test_a_trace_without_its_root_is_left_out():
    assert steps([span("storage.commit", 1, 2)]) is None
    assert by_trace([span("storage.commit", 1, 2), span("pegout", 0, 5, b"t2")],
                    {b"t1", b"t2"}) == [{"total": 5.0, "  -> end of the trace": 5.0}]


def test_the_table_shows_the_slowest_percent_beside_the_percentiles():
    traces = [{"total": float(n), "hop": 1.0 if n < 199 else 50.0} for n in range(200)]
    lines = table("100/s", traces).splitlines()
    assert lines[0] == "100/s: 200 peg-outs traced"
    hop = next(line for line in lines if line.startswith("hop "))
    assert hop.split()[1:] == ["1.00", "1.00", "25.50"]  # the slowest 2 of 200: 1 and 50
    assert table("empty", []) == "empty: no complete trace"


def test_a_phase_is_the_roots_of_the_ids_made_for_it_never_the_warm_up_s():
    # The warm-up may run more than once, and exports arrive in any order: a phase is
    # picked by the label in its peg-outs' ids, not by position among the roots.
    roots = [Span("pegout", b"w1", b"", 0, 1, "bench-warmup-0"),
             Span("pegout", b"s1", b"", 2, 3, "bench-single-1"),
             Span("storage.commit", b"s1", b"", 2, 3),
             Span("pegout", b"w2", b"", 4, 5, "bench-warmup-2")]
    assert [s.trace_id for s in phase_roots(roots, {"single", "paced"})] == [b"s1"]
    assert phase_of("bench-paced-17") == "paced" and phase_of("po-1") == ""


def test_decode_keeps_a_root_span_s_request_id():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    sent = request.resource_spans.add().scope_spans.add().spans.add()
    sent.name, sent.trace_id = "pegout", b"t" * 16
    attribute = sent.attributes.add()
    attribute.key, attribute.value.string_value = "request_id", "bench-paced-3"
    [found] = decode([request.SerializeToString()])
    assert found.request_id == "bench-paced-3"
