"""Traces across the node's processes: the glue every actor calls, and nothing else.

OpenTelemetry, off by default (`tracing.endpoint: null`). Each actor process
sets up its own tracer provider once it runs (`start`, from `_Start`, after
the fork: the exporter's thread and connections never cross a fork) and
flushes it when the actor exits (`stop`). Spans go out by OTLP over HTTP
(protobuf), never gRPC: Thespian forks, and gRPC must not be initialised in
a process that forks.

A span's context crosses processes inside the node's own messages, as W3C
`traceparent` text (`00-<trace id>-<span id>-<flags>`) in an optional field
that is None while tracing is off. An actor handling a message that carries
one opens a span named `<actor>.<Message>` under it (`actors/base.py`); what
lasts longer than one message (a peg-out, a request awaiting governance's
answer, a push awaiting the chain) is an open span kept by key here
(`begin`/`end`), at most `MAX_OPEN` of them per process.

The off path is a module flag read and a return: no OpenTelemetry import, no
span object, no context. `active` is that flag; callers test it before
building anything a span would need.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from nodeconfig.redact import redact_text

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from nodeconfig import TracingConfig

__all__ = [
    "MAX_OPEN",
    "TraceparentError",
    "active",
    "begin",
    "current_trace_id",
    "current_traceparent",
    "end",
    "parse_traceparent",
    "span",
    "spans",
    "start",
    "stop",
    "traceparent_of",
]

MAX_OPEN = 10_000  # open spans kept by key; past it the oldest is ended as abandoned
MAX_ENDED = 10_000  # ended keyed spans whose context late children may still need
EXPORT_TIMEOUT_S = 5.0
FLUSH_TIMEOUT_MS = 5_000
# The longest an exiting actor waits for its spans to go out (`stop`): well within the
# default `supervision.*.shutdown_s`, so a slow collector never makes a stop a kill.
STOP_BUDGET_S = 1.0

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

active = False  # whether this process traces; read by callers before any work

_log = logging.getLogger("alys.tracing")
_NULL = nullcontext()
_pid: int | None = None
_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_current: Context | None = None  # the context of the span, or message, being handled
_open: OrderedDict[Hashable, Span] = OrderedDict()
_ended: OrderedDict[Hashable, str] = OrderedDict()


class TraceparentError(ValueError):
    """A `traceparent` field that is not W3C trace context version 00."""


def parse_traceparent(text: str) -> tuple[int, int, int]:
    """(trace id, span id, flags) of W3C `traceparent` text; raises `TraceparentError`."""
    if not isinstance(text, str) or len(text) != 55:
        raise TraceparentError(f"expected 55 characters '00-<32 hex>-<16 hex>-<2 hex>', got "
                               f"{text!r:.80}")
    match = _TRACEPARENT.fullmatch(text)
    if match is None:
        raise TraceparentError(f"expected '00-<32 lowercase hex>-<16 lowercase hex>-<2 hex>', "
                               f"got {text!r}")
    trace_id, span_id, flags = (int(group, 16) for group in match.groups())
    if trace_id == 0 or span_id == 0:
        raise TraceparentError(f"an all-zero trace or span id is invalid: {text!r}")
    return trace_id, span_id, flags


def _shown(text: str) -> str:
    """Free text (an error, a failure's detail) as a span may carry it out of the node: URLs
    redacted as in the log (an RPC error may name `user:password@`), at most 200 characters."""
    return redact_text(text)[:200]


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"


# -- one provider per process ---------------------------------------------------------


def start(config: TracingConfig, actor: str, node_id: str = "", *,
          exporter: SpanExporter | None = None) -> None:
    """Trace from this process if `config.endpoint` is set; once per process (a forked
    child inherits its parent's provider, and replaces it here). `exporter` replaces the
    OTLP one (unit tests)."""
    global active, _pid, _provider, _tracer, _current
    if config.endpoint is None or _pid == os.getpid():
        return
    # Imported only when tracing is on: the node that does not trace never loads it.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    inherited, _pid = _provider, os.getpid()
    if inherited is not None:
        inherited.shutdown()  # the parent's copy: its queue was emptied at the fork
    _open.clear()
    _ended.clear()
    _current = None
    resource = Resource.create({"service.name": config.service_name,
                                "service.instance.id": node_id or "node",
                                "alys.actor": actor, "process.pid": os.getpid()})
    # No flush at interpreter exit: `stop` flushes within its budget, and an exit hook
    # would wait on a hung collector for as long as the SDK likes.
    _provider = TracerProvider(resource=resource, shutdown_on_exit=False,
                               sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)))
    if exporter is None:
        exporter = OTLPSpanExporter(endpoint=config.endpoint, timeout=EXPORT_TIMEOUT_S)
    _provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    _tracer = _provider.get_tracer("alys-node")
    active = True


def stop() -> None:
    """End what is still open and send every span this process holds (the actor exits)."""
    global active, _tracer
    if not active or _pid != os.getpid() or _provider is None:
        return
    for key in list(_open):
        end(key, abandoned="the actor stopped")
    active = False
    _tracer = None
    # The SDK's force_flush exports in the calling thread and does not keep to its timeout
    # (each batch may take EXPORT_TIMEOUT_S and its retries): the flush gets a thread of its
    # own and STOP_BUDGET_S; what is not sent by then is lost with the process.
    flusher = threading.Thread(target=_flush_and_shut_down, args=(_provider,),
                               name="trace-flush", daemon=True)
    flusher.start()
    flusher.join(STOP_BUDGET_S)
    if flusher.is_alive():
        _log.warning("spans not all sent within %gs of stopping: the trace collector is slow "
                     "or unreachable", STOP_BUDGET_S)


def _flush_and_shut_down(provider: TracerProvider) -> None:
    provider.force_flush(FLUSH_TIMEOUT_MS)
    provider.shutdown()


# -- spans ----------------------------------------------------------------------------


def _context_of(traceparent: str | None) -> Context | None:
    """The parent context `traceparent` names, or the current one when None. A malformed
    one is logged and gives no parent: the span starts a trace of its own."""
    if traceparent is None:
        return _current
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

    try:
        trace_id, span_id, flags = parse_traceparent(traceparent)
    except TraceparentError as exc:
        _log.warning("traceparent ignored: %s", exc)
        return None
    parent = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 1))
    return set_span_in_context(NonRecordingSpan(parent))


def _traceparent(span: Span) -> str:
    context = span.get_span_context()
    return format_traceparent(context.trace_id, context.span_id, int(context.trace_flags))


def _start_span(name: str, context: Context | None, attributes: dict[str, Any]) -> Span:
    assert _tracer is not None
    return _tracer.start_span(name, context=context,
                              attributes={k: v for k, v in attributes.items() if v is not None})


def span(name: str, parent: str | None = None, **attributes: Any) -> Any:
    """A context manager: a span under `parent` (W3C text; None: the current span) for
    the block, which is the current span meanwhile. Off: a shared no-op."""
    if not active:
        return _NULL
    return _within(_start_span(name, _context_of(parent), attributes))


@contextmanager
def _within(opened: Span) -> Iterator[Span]:
    global _current
    from opentelemetry.trace import Status, StatusCode, set_span_in_context

    previous, _current = _current, set_span_in_context(opened)
    try:
        yield opened
    except BaseException as exc:
        opened.set_status(Status(StatusCode.ERROR, _shown(f"{type(exc).__name__}: {exc}")))
        raise
    finally:
        _current = previous
        opened.end()


@contextmanager
def _each(name: str, parents: tuple[str, ...], attributes: dict[str, Any]) -> Iterator[None]:
    opened = [_start_span(name, _context_of(parent), attributes) for parent in parents]
    try:
        yield
    finally:
        for each in opened:
            each.end()


def spans(name: str, parents: Iterable[str | None], **attributes: Any) -> Any:
    """A context manager: one span for the block under each distinct parent given (one
    commit or one broadcast serves many peg-outs, each its own trace). None parents, and
    tracing off, give none."""
    if not active:
        return _NULL
    distinct = tuple(dict.fromkeys(parent for parent in parents if parent is not None))
    if len(distinct) == 1:  # one trace: its span is current, so lines logged name it
        return _within(_start_span(name, _context_of(distinct[0]), attributes))
    return _each(name, distinct, attributes) if distinct else _NULL


def begin(key: Hashable, name: str, parent: str | None = None, **attributes: Any) -> bool:
    """Open a span that outlives the message being handled, found again by `key`; under
    `parent`, or the root of a new trace when None. A key already open is left as it is.
    Whether a span was opened."""
    if not active or key in _open:
        return False
    if parent is None:
        from opentelemetry.context import Context

        context: Context | None = Context()  # empty: no parent, whatever is current
    else:
        context = _context_of(parent)
    _open[key] = _start_span(name, context, attributes)
    if len(_open) > MAX_OPEN:
        end(next(iter(_open)), abandoned=f"more than {MAX_OPEN} spans open")
    return True


def end(key: Hashable, error: str | None = None, **attributes: Any) -> str | None:
    """End the span open under `key`, with `error` as its status if given; its traceparent
    (None if none was open). Later children still find it by `traceparent_of`."""
    if not active:
        return None
    opened = _open.pop(key, None)
    if opened is None:
        return None
    for attribute, value in attributes.items():
        if value is not None:
            opened.set_attribute(f"alys.{attribute}",
                                 _shown(value) if isinstance(value, str) else value)
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        opened.set_status(Status(StatusCode.ERROR, _shown(error)))
    opened.end()
    text = _traceparent(opened)
    _ended[key] = text
    if len(_ended) > MAX_ENDED:
        _ended.popitem(last=False)
    return text


def traceparent_of(key: Hashable) -> str | None:
    """The traceparent of the span open (or lately ended) under `key`; None if none."""
    if not active:
        return None
    opened = _open.get(key)
    return _traceparent(opened) if opened is not None else _ended.get(key)


def current_traceparent() -> str | None:
    """The traceparent of the span being handled, for a message sent from inside it."""
    if not active or _current is None:
        return None
    from opentelemetry.trace import get_current_span

    return _traceparent(get_current_span(_current))


def current_trace_id() -> str | None:
    """The trace id (32 hex digits) the code running now is part of; for log lines."""
    if not active or _current is None:
        return None
    from opentelemetry.trace import get_current_span

    trace_id = get_current_span(_current).get_span_context().trace_id
    return f"{trace_id:032x}" if trace_id else None
