"""What logs' context and tracing add to each message an actor handles, off and on.

`python -m bench.tracing_cost` times, with timeit, the calls the hot path makes
(`NodeActor.handle` around every message, the bridge's per-peg-out calls, a storage
commit's spans) with tracing off, as every node runs by default, and on (a real
tracer provider and BatchSpanProcessor whose exporter drops the spans, so the figure
is the node's cost, not the network's). It runs in seconds; `scripts/bench` measures
the node end to end.
"""

from __future__ import annotations

import argparse
import os
import timeit
from collections.abc import Callable, Sequence

from actors.messages import Batch, InitiatePegout
from nodeconfig import TracingConfig
from runtime import logcontext, tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MESSAGE = InitiatePegout("po-1", "00" * 100, (0, 1), (1000, 2000))
BATCH = Batch((MESSAGE,))


def _handle_context(message: object) -> None:
    """What `NodeActor.handle` adds around every message (without the dispatch itself)."""
    previous, logcontext.handling = logcontext.handling, message
    try:
        if tracing.active and getattr(message, "traceparent", None) is not None:
            with tracing.span("bridge.Message", getattr(message, "traceparent", None)):
                pass
    finally:
        logcontext.handling = previous


def _pegout_calls() -> None:
    """The bridge's tracing calls for one peg-out, as `BridgeActor` makes them."""
    key = ("pegout", "po-1")
    if tracing.active:
        tracing.begin(key, "pegout", request_id="po-1")
    with tracing.span("bridge.InitiatePegout", tracing.traceparent_of(key)):
        pass
    if tracing.active:
        tracing.end(key, None, outcome="broadcast")


def _commit_spans() -> None:
    with tracing.spans("storage.commit", (PARENT,) if tracing.active else ()):
        pass


def _nothing() -> None:
    pass


CASES: Sequence[tuple[str, Callable[[], None]]] = (
    ("an empty call (the floor)", _nothing),
    ("handle(): a message with a request id", lambda: _handle_context(MESSAGE)),
    ("handle(): a Batch (no request id)", lambda: _handle_context(BATCH)),
    ("bridge: the calls of one peg-out", _pegout_calls),
    ("storage: the spans of one commit", _commit_spans),
)


def _measure(number: int) -> list[tuple[str, float]]:
    figures = []
    for name, call in CASES:
        best = min(timeit.repeat(call, number=number, repeat=5))
        figures.append((name, best / number * 1e9))
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per repeat")
    args = parser.parse_args(argv)
    off = _measure(args.number)

    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracing.start(TracingConfig(endpoint="http://127.0.0.1:4318/v1/traces"), "bench",
                  exporter=Dropped())
    previous = logcontext.about(None)
    on = _measure(max(args.number // 10, 1))
    logcontext.restore(previous)
    tracing.stop()
    print(f"per call, best of 5 (pid {os.getpid()}):")
    print(f"{'':42} {'off ns':>9} {'on ns':>9}")
    for (name, off_ns), (_, on_ns) in zip(off, on, strict=True):
        print(f"{name:42} {off_ns:9.0f} {on_ns:9.0f}")


if __name__ == "__main__":
    main()
