"""The bridge's metrics, log lines and trace ends, from the workflows' `Note`s: the one place
that says what each event counts, logs and ends, so that the decisions themselves do none.

Every line written for a note is about its request id and event (the `request_id` and
`event` fields of a JSON line); an outcome (`TRACE_ENDS`) ends the peg-out's trace."""

from __future__ import annotations

import logging
import time

from actors.bridge import metrics
from actors.bridge.effects import Event, Note
from runtime import logcontext, tracing

# The events after which nothing more happens to a peg-out unless asked: its trace ends.
TRACE_ENDS = {Event.REJECTED: None, Event.BROADCAST: None, Event.FAILED: "failed",
              Event.BROADCAST_REFUSED: "broadcast refused",
              Event.NEEDS_REVIEW: "needs review"}


def pegout_key(request_id: str) -> tuple[str, str]:
    """The key of a peg-out's open span (runtime/tracing.py)."""
    return ("pegout", request_id)


def observe(note: Note, log: logging.Logger) -> None:
    """Count, log and (an outcome, unless `note.ends_trace` is False) end the trace of
    `note`."""
    trace = tracing.traceparent_of(pegout_key(note.request_id)) if tracing.active else None
    previous = logcontext.about(note.request_id, note.event.value, trace and trace[3:35])
    try:
        _count_and_log(note, log)
    finally:
        logcontext.restore(previous)
    if tracing.active and note.ends_trace and note.event in TRACE_ENDS:
        tracing.end(pegout_key(note.request_id), TRACE_ENDS[note.event],
                    outcome=note.event.value, detail=note.detail[:200] or None)


def _count_and_log(note: Note, log: logging.Logger) -> None:
    rid = note.request_id
    match note.event:
        case Event.ACCEPTED:
            metrics.PEGOUTS.labels(event="accepted").inc()
        case Event.REJECTED:
            metrics.PEGOUTS.labels(event="rejected").inc()
            metrics.REJECTED.labels(reason=note.kind).inc()
            log.info("peg-out %s rejected: %s", rid, note.detail)
        case Event.SIGNED:
            metrics.PEGOUTS.labels(event="signed").inc()
            metrics.LAST_SIGNED.set(time.time())
        case Event.SIGNATURE_FAILURE:
            metrics.SIGNATURE_FAILURES.labels(reason=note.kind).inc()
        case Event.RETRIED:
            metrics.PEGOUTS.labels(event="retried").inc()
            log.warning("peg-out %s attempt %d failed (%s); attempt %d follows", rid,
                        note.attempt, note.detail, note.attempt + 1)
        case Event.TRANSIENT_FAILURE:
            metrics.TRANSIENT_FAILURES.labels(reason=note.kind).inc()
            log.info("peg-out %s attempt %d: %s; attempt %d in %.0f s (costs no retry)", rid,
                     note.attempt, note.detail, note.attempt + 1, note.delay_s)
        case Event.RETRY_STARTED:
            metrics.PEGOUTS.labels(event="retry_started").inc()
            log.info("peg-out %s: retried by a client, attempt %d begins a new series", rid,
                     note.attempt)
        case Event.FAILED:
            metrics.PEGOUTS.labels(event="failed").inc()
            log.error("peg-out %s failed: %s", rid, note.detail)
        case Event.BROADCAST:
            # Per peg-out at DEBUG: the actor logs one INFO line per broadcast batch, and a
            # line per peg-out was a fifth of a busy bridge's time.
            metrics.PEGOUTS.labels(event="broadcast").inc()
            if note.since_accepted_s is not None:
                metrics.ACCEPTED_TO_BROADCAST.observe(note.since_accepted_s)
            log.debug("peg-out %s broadcast: txid %s", rid, note.detail)
        case Event.BROADCAST_DEFERRED:
            metrics.BROADCAST_ERRORS.labels(retryable="true").inc()
            log.warning("peg-out %s: broadcast failed, retrying later: %s", rid, note.detail)
        case Event.BROADCAST_REFUSED:
            metrics.BROADCAST_ERRORS.labels(retryable="false").inc()
            log.error("peg-out %s: broadcast refused: %s", rid, note.detail)
        case Event.DUPLICATE_ANSWER:
            metrics.DUPLICATE_ANSWERS.inc()
            log.debug("answer %s for a peg-out already %s: ignored", rid,
                      note.detail or "past that attempt")
        case Event.UNKNOWN_ANSWER:
            log.warning("an answer for %r, which is no peg-out of this node", rid)
        case Event.SET_ASIDE:
            log.info("answer %s set aside: emergency halt", rid)
        case Event.NEEDS_REVIEW:
            metrics.FOLLOWED.labels(event="needs_review").inc()
            log.error("peg-out %s NEEDS REVIEW: %s", rid, note.detail)
        case Event.SPENT_ELSEWHERE:
            metrics.FOLLOWED.labels(event="spent_elsewhere").inc()
            log.warning("peg-out %s: %s", rid, note.detail)
        case Event.CONFIRMATIONS:
            log.debug("peg-out %s: %d confirmations", rid, note.attempt)
        case Event.CONFIRMED:
            metrics.PEGOUTS.labels(event="confirmed").inc()
            if note.since_accepted_s is not None:
                metrics.ACCEPTED_TO_CONFIRMED.observe(note.since_accepted_s)
            log.info("peg-out %s confirmed: %s", rid, note.detail)
        case Event.UNCONFIRMED:
            metrics.FOLLOWED.labels(event="unconfirmed").inc()
            log.warning("peg-out %s: a reorg took its transaction out of the chain (%s)", rid,
                        note.detail)
        case Event.LEFT_MEMPOOL:
            metrics.FOLLOWED.labels(event="left_mempool").inc()
            log.warning("peg-out %s: its transaction left the mempool unconfirmed (%s); "
                        "handing it over again", rid, note.detail)
        case Event.REPLACED:
            metrics.PEGOUTS.labels(event="replaced").inc()
            log.info("peg-out %s replaced %s", rid, note.detail)
        case Event.RESOLVED:
            metrics.FOLLOWED.labels(event="resolved").inc()
            log.warning("peg-out %s resolved by an operator as %s: %s", rid, note.kind,
                        note.detail)
        case Event.PEGIN_ACCEPTED:
            metrics.PEGINS.labels(event="accepted").inc()
        case Event.PEGIN_REJECTED:
            metrics.PEGINS.labels(event="rejected").inc()
            log.info("peg-in %s rejected: %s", rid, note.detail)
        case Event.PEGIN_DELIVERED:
            metrics.PEGINS.labels(event="delivered").inc()
        case Event.PEGIN_RETRIED:
            log.warning("peg-in notice %s: %s; sent again in %.0f s", rid, note.detail,
                        note.delay_s)
