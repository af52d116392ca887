"""Bridge metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PEGOUTS = Counter("alys_pegouts_total",
                  "Peg-out events: accepted, rejected, signed, broadcast, failed, retried "
                  "(a final bad answer), retry_started (a client's RetryPegout).",
                  ["event"])
REJECTED = Counter("alys_pegouts_rejected_total", "InitiatePegout refused, by reason kind.",
                   ["reason"])
SIGNATURE_FAILURES = Counter("alys_pegout_signature_failures_total",
                             "Attempts whose signatures were not usable, by reason.", ["reason"])
TRANSIENT_FAILURES = Counter("alys_pegout_transient_failures_total",
                             "Attempts that ended without a final answer (rate limited, "
                             "unavailable, timed out): asked again, no retry spent.", ["reason"])
DUPLICATE_ANSWERS = Counter("alys_pegout_duplicate_answers_total",
                            "Signature answers for a peg-out already signed, broadcast, failed "
                            "or for an older attempt.")
BROADCAST_ERRORS = Counter("alys_pegout_broadcast_errors_total",
                           "Broadcast attempts that failed, by retryable or not.", ["retryable"])
AWAITING = Gauge("alys_pegouts_awaiting_signatures", "Peg-outs waiting for signatures.",
                 multiprocess_mode="livemax")
OLDEST_AWAITING = Gauge("alys_pegout_oldest_awaiting_since_timestamp_seconds",
                        "Unix time at which the longest-waiting peg-out awaiting signatures "
                        "was accepted (or retried by a client); 0 while none waits.",
                        multiprocess_mode="livemax")
NEEDS_REVIEW = Gauge("alys_pegouts_needs_review",
                     "Peg-outs parked in needs_review: the node cannot tell whether they were "
                     "paid, and an operator must decide (ResolvePegout).",
                     multiprocess_mode="livemax")
OLDEST_UNCONFIRMED = Gauge("alys_pegout_oldest_unconfirmed_seconds",
                           "Seconds since the oldest broadcast, unconfirmed peg-out was "
                           "broadcast (0: none; followed with bitcoin_rpc only).",
                           multiprocess_mode="livemax")
OUTFLOW_USED = Gauge("alys_bridge_outflow_window_sat",
                     "Satoshi paid out by peg-outs accepted within bridge.outflow.window_s.",
                     multiprocess_mode="livemax")
FOLLOWED = Counter("alys_pegout_followed_total",
                   "What following broadcast transactions found: confirmed, unconfirmed (a "
                   "reorg), left_mempool (handed over again), spent_elsewhere (its own "
                   "transaction found after inputs spent), needs_review, replaced, resolved.",
                   ["event"])
PEGINS = Counter("alys_pegins_total", "Peg-in notices: accepted, rejected, delivered.", ["event"])
HALTED = Gauge("alys_bridge_halted", "1 while an emergency halt is in force.",
               multiprocess_mode="livemax")

# From seconds (a healthy federation signs within seconds; a broadcaster hands over at once)
# to a day (a peg-out retried for hours, or waiting for its confirmations).
PEGOUT_DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
                           1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0)
ACCEPTED_TO_BROADCAST = Histogram(
    "alys_pegout_accepted_to_broadcast_seconds",
    "From a peg-out's acceptance to its broadcast (signatures, verification, hand-over).",
    buckets=PEGOUT_DURATION_BUCKETS)
ACCEPTED_TO_CONFIRMED = Histogram(
    "alys_pegout_accepted_to_confirmed_seconds",
    "From a peg-out's acceptance to bridge.confirmations confirmations (bitcoin_rpc only).",
    buckets=PEGOUT_DURATION_BUCKETS)
# `max` over every process the bridge ever ran in: a restarted bridge keeps the last value.
LAST_SIGNED = Gauge("alys_pegout_last_signed_timestamp_seconds",
                    "Unix time at which the last peg-out was signed (0 until one is signed "
                    "in this run of the node).",
                    multiprocess_mode="max")
