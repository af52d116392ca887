"""What the node's processes export over OTLP/HTTP, decoded for the tests to look at.

The endpoint itself is the benchmark's collector stand-in (`bench/otlp_sink.py`), keeping
every export; this module decodes them into spans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.otlp_sink import Sink, otlp_sink


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root
    start_ns: int
    end_ns: int
    actor: str  # the exporting process's `alys.actor`
    pid: int
    attributes: dict[str, Any]

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def decode(body: bytes) -> list[ReceivedSpan]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    received = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received.append(ReceivedSpan(
                    span.name, span.trace_id.hex(), span.span_id.hex(),
                    span.parent_span_id.hex(), span.start_time_unix_nano,
                    span.end_time_unix_nano, str(resource.get("alys.actor", "")),
                    int(resource.get("process.pid", 0)),
                    {kv.key: _value(kv.value) for kv in span.attributes}))
    return received


class Receiver:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    @property
    def requests(self) -> int:
        return self._sink.exports

    @property
    def refused(self) -> list[str]:
        """`<path> <content type> <length>` of each export refused (400)."""
        return list(self._sink.refused)

    def spans(self) -> list[ReceivedSpan]:
        return [span for body in self._sink.bodies() for span in decode(body)]


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, Receiver]]:
    """A receiver on a free loopback port: its traces URL, and what it received."""
    with otlp_sink(keep=True) as (url, sink):
        yield url, Receiver(sink)
