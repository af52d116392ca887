"""The tracing glue: W3C context in and out, spans kept by key, the bounds, and an off path
that makes nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from nodeconfig import ConfigError, TracingConfig, build_config
from runtime import tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "_pid", None)  # as in a freshly forked process
    monkeypatch.setattr(tracing, "_provider", None)  # and so restored after the test
    tracing.start(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces"), "bridge", "n1",
                  exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.stop()


def finished(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    assert tracing._provider is not None
    tracing._provider.force_flush()
    return {span.name: span for span in exporter.get_finished_spans()}


def test_off_every_helper_returns_at_once_and_makes_nothing() -> None:
    assert tracing.active is False
    assert tracing.span("x", PARENT) is tracing.span("y")  # the one shared no-op
    assert tracing.spans("x", [PARENT]) is tracing.span("y")
    tracing.begin(("pegout", "a"), "pegout")
    assert tracing.end(("pegout", "a")) is None
    assert tracing.traceparent_of(("pegout", "a")) is None
    assert tracing.current_traceparent() is None and tracing.current_trace_id() is None
    assert tracing._open == {}


def test_a_trace_left_out_by_the_ratio_records_nothing_and_tells_its_children(
        monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "_pid", None)
    monkeypatch.setattr(tracing, "_provider", None)
    tracing.start(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces", sample_ratio=0.0),
                  "bridge", exporter=exporter)
    try:
        tracing.begin("k", "pegout")
        carried = tracing.traceparent_of("k")
        with tracing.span("bridge.InitiatePegout", carried):
            pass
        tracing.end("k")
        with tracing.span("storage.commit", PARENT):  # a sampled parent is followed
            pass
        assert tracing._provider is not None
        tracing._provider.force_flush()
        # Not sampled (flag bit 0 clear), and said so to the other processes.
        assert carried is not None and not int(carried[-2:], 16) & 1
        assert [span.name for span in exporter.get_finished_spans()] == ["storage.commit"]
    finally:
        tracing.stop()


def test_error_texts_and_details_leave_in_spans_with_their_urls_redacted(
        exported: InMemorySpanExporter) -> None:
    secret_url = "http://alys:hunter2secret@10.0.0.5:8332/wallet/cold"
    tracing.begin("k", "pegout")
    tracing.end("k", f"broadcast refused: {secret_url} said no",
                detail=f"POST {secret_url} failed")
    with pytest.raises(ConnectionError), tracing.span("bridge.broadcast", PARENT):
        raise ConnectionError(f"cannot reach {secret_url}")
    spans = finished(exported)
    texts = [spans["pegout"].status.description, spans["pegout"].attributes["alys.detail"],
             spans["bridge.broadcast"].status.description]
    assert all("hunter2secret" not in str(text) and "***@10.0.0.5" in str(text)
               for text in texts), texts


class HungCollector(SpanExporter):
    """An exporter whose every export waits, as one against a collector that accepts the
    connection and never answers (until `release`, or the exporter's own timeout)."""

    def __init__(self, timeout_s: float) -> None:
        self.release = threading.Event()
        self.timeout_s = timeout_s

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(self.timeout_s)
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self.release.set()


def test_stopping_against_a_hung_collector_waits_no_longer_than_the_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    collector = HungCollector(timeout_s=10.0)
    monkeypatch.setattr(tracing, "_pid", None)
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(tracing, "STOP_BUDGET_S", 0.2)
    tracing.start(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces"), "bridge",
                  exporter=collector)
    try:
        tracing.begin("k", "pegout")  # still open: stop ends it, and it must go out
        began = time.monotonic()
        tracing.stop()
        assert time.monotonic() - began < 2.0
        assert tracing.active is False
    finally:
        collector.release.set()


def test_a_config_without_an_endpoint_leaves_tracing_off() -> None:
    tracing.start(TracingConfig(), "bridge")
    assert tracing.active is False and tracing._provider is None


@pytest.mark.parametrize(("text", "problem"), [
    ("", "55 characters"),
    (PARENT.upper(), "lowercase hex"),
    ("01" + PARENT[2:], "'00-"),
    ("00-" + "0" * 32 + PARENT[35:], "all-zero"),
    (PARENT[:36] + "0" * 16 + PARENT[52:], "all-zero"),
    (PARENT + "x", "55 characters"),
])
def test_a_malformed_traceparent_is_refused_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(tracing.TraceparentError, match=problem):
        tracing.parse_traceparent(text)


def test_a_traceparent_round_trips() -> None:
    trace_id, span_id, flags = tracing.parse_traceparent(PARENT)
    assert tracing.format_traceparent(trace_id, span_id, flags) == PARENT


def test_a_span_under_a_carried_context_joins_its_trace(
        exported: InMemorySpanExporter) -> None:
    with tracing.span("bridge.ApplySignatures", PARENT, request_id="po-1/1"):
        inner = tracing.current_traceparent()
        assert tracing.current_trace_id() == PARENT[3:35]
    assert tracing.current_traceparent() is None

    span = finished(exported)["bridge.ApplySignatures"]
    assert f"{span.context.trace_id:032x}" == PARENT[3:35]
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT[36:52]
    assert inner is not None and inner[36:52] == f"{span.context.span_id:016x}"
    assert span.resource.attributes["alys.actor"] == "bridge"


def test_a_kept_span_parents_later_spans_and_is_found_after_it_ended(
        exported: InMemorySpanExporter) -> None:
    tracing.begin(("pegout", "po-1"), "pegout", request_id="po-1")
    root = tracing.traceparent_of(("pegout", "po-1"))
    with tracing.spans("storage.commit", [root, root, None]):
        pass
    assert tracing.end(("pegout", "po-1"), outcome="broadcast") == root
    assert tracing.traceparent_of(("pegout", "po-1")) == root  # late children find it
    assert tracing.end(("pegout", "po-1")) is None  # ended once

    spans = finished(exported)
    assert spans["pegout"].parent is None
    assert spans["pegout"].attributes is not None
    assert spans["pegout"].attributes["alys.outcome"] == "broadcast"
    assert spans["storage.commit"].parent is not None
    assert spans["storage.commit"].parent.span_id == spans["pegout"].context.span_id
    assert len(exported.get_finished_spans()) == 2  # one commit per distinct parent


def test_a_new_root_ignores_the_current_span(exported: InMemorySpanExporter) -> None:
    with tracing.span("outer", PARENT):
        tracing.begin("k", "governance.push")
    tracing.end("k")
    assert finished(exported)["governance.push"].parent is None


def test_an_error_ends_a_span_with_an_error_status(exported: InMemorySpanExporter) -> None:
    tracing.begin("k", "governance.signature_request", PARENT)
    tracing.end("k", "timed out")
    with pytest.raises(RuntimeError), tracing.span("bridge.broadcast"):
        raise RuntimeError("refused")
    spans = finished(exported)
    assert spans["governance.signature_request"].status.description == "timed out"
    assert spans["bridge.broadcast"].status.description == "RuntimeError: refused"


def test_open_spans_are_bounded_and_the_oldest_is_ended_as_abandoned(
        exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "MAX_OPEN", 3)
    for number in range(5):
        tracing.begin(number, f"span-{number}")
    assert list(tracing._open) == [2, 3, 4]
    abandoned = finished(exported)["span-0"]
    assert abandoned.attributes is not None
    assert "more than 3" in str(abandoned.attributes["alys.abandoned"])


def test_a_malformed_carried_context_starts_a_trace_of_its_own_and_says_why(
        exported: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "alys.tracing"), tracing.span("x", "00-nonsense"):
        pass
    assert finished(exported)["x"].parent is None
    assert "traceparent ignored: expected 55 characters" in caplog.text


def test_stopping_ends_what_is_open(exported: InMemorySpanExporter) -> None:
    tracing.begin("k", "pegout")
    provider = tracing._provider
    tracing.stop()
    assert tracing.active is False
    names = [span.name for span in exported.get_finished_spans()]
    assert names == ["pegout"] and provider is not None


@pytest.mark.parametrize(("endpoint", "problem"), [
    ("http://10.0.0.1:4318/v1/traces", "plain http is allowed only to loopback"),
    ("http://collector.example:4318/v1/traces", "plain http is allowed only to loopback"),
    ("https://u:p@collector.example/v1/traces", "must not carry credentials"),
    ("https://collector.example/v1/traces?api_key=s3cretkey", "must not carry a query"),
    ("https://collector.example/v1/traces#s3cretkey", "must not carry a query"),
    ("https://collector.example/v1/traces?", "must not carry a query"),
    ("grpc://127.0.0.1:4317", "expected an http:// or https:// URL"),
    ("127.0.0.1:4318", "expected an http:// or https:// URL"),
])
def test_the_config_refuses_an_endpoint_naming_the_problem(endpoint: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as refused:
        build_config({"tracing": {"endpoint": endpoint}}, source="/n.yaml", env={})
    assert "s3cretkey" not in str(refused.value)


def test_the_config_takes_loopback_http_https_and_a_ratio_in_zero_to_one() -> None:
    for endpoint in ("http://127.0.0.1:4318/v1/traces", "http://[::1]:4318/v1/traces",
                     "http://localhost:4318/v1/traces", "https://otel.example/v1/traces"):
        config = build_config({"tracing": {"endpoint": endpoint, "sample_ratio": 0.25}},
                              source="/n.yaml", env={})
        assert (config.tracing.endpoint, config.tracing.sample_ratio) == (endpoint, 0.25)
    assert build_config({}, source="/n.yaml", env={}).tracing == TracingConfig()
    with pytest.raises(ConfigError, match="between 0 and 1"):
        build_config({"tracing": {"sample_ratio": 1.5}}, source="/n.yaml", env={})
    with pytest.raises(ConfigError, match="at most 64 characters"):
        build_config({"tracing": {"service_name": "s" * 65}}, source="/n.yaml", env={})


def test_a_node_that_does_not_trace_never_imports_opentelemetry() -> None:
    import subprocess
    import sys

    code = ("import sys, actors.base, actors.bridge.actor, actors.storage.actor, "
            "actors.stream.actor, runtime.logs; "
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_a_signature_request_carries_its_pegout_s_context_first_sent_or_re_sent(
        exported: InMemorySpanExporter) -> None:
    from actors.bridge.actor import _traced
    from actors.bridge.observe import pegout_key
    from actors.messages import RequestSignatures

    tracing.begin(pegout_key("po-1"), "pegout")
    attempt = RequestSignatures("po-1/2", "00", (0,), (1,))
    assert _traced(attempt).traceparent == tracing.traceparent_of(pegout_key("po-1"))
    assert _traced(RequestSignatures("po-2/1", "00", (0,), (1,))).traceparent is None
    assert _traced(RequestSignatures("no-attempt", "00", (0,), (1,))).traceparent is None
