"""The peg-out workflow without an actor: each event's record and effects, and a state machine
that drives random sequences of events through it and checks what must always hold."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from actors.bridge import following, workflow
from actors.bridge.effects import (
    AskSignatures,
    Broadcast,
    BroadcastLater,
    CountOutflow,
    Drop,
    Effect,
    Event,
    Note,
    NotifyChain,
    Persist,
    Reply,
)
from actors.bridge.rpc import Seen
from actors.bridge.workflow import Rules, Situation, Step
from actors.messages import (
    RESOLUTIONS,
    ApplySignatures,
    Handled,
    InitiatePegout,
    PegoutAccepted,
    PegoutRejected,
    PegoutState,
    Witness,
)
from actors.storage.records import Claim, PegoutRecord, Release
from btc.federation import Federation
from btc.pegout import parse_pegout, sighashes
from btc.policy import outpoints
from btc.testing import make_unsigned_pegout
from tests.unit.btc import federation, public_key, sign_digest

FED = federation(5, 3)
RULES = Rules(max_pegout_sat=10**8, signature_retries=2)
CLIENT, STREAM = "client", "stream"
NOW = 1_000.0


def situation(fed: Federation | None = FED, now: float = NOW, retries: int = 2) -> Situation:
    return Situation(fed, dataclasses.replace(RULES, signature_retries=retries), now)


def request(rid: str = "po-1", seed: int = 0) -> InitiatePegout:
    tx_hex, indices, amounts = make_unsigned_pegout(FED.witness_script, seed=seed)
    return InitiatePegout(rid, tx_hex, indices, amounts)


def complete(record: PegoutRecord, attempt: int | None = None,
             signers: Sequence[int] = (0, 1, 2)) -> ApplySignatures:
    """A complete answer from `signers` (key indices) that verifies."""
    unsigned = parse_pegout(record.tx_hex, record.input_indices, record.amounts,
                            max_pegout_sat=10**8)
    witnesses = tuple(Witness(sign_digest(signer, digest) + b"\x01", public_key(signer))
                      for digest in sighashes(unsigned, FED.witness_script)
                      for signer in signers)
    return ApplySignatures(f"{record.request_id}/{attempt or record.attempt}", "complete",
                           witnesses)


def accepted_record(rid: str = "po-1") -> PegoutRecord:
    step = workflow.requested(None, request(rid), CLIENT, situation())
    assert step.record is not None
    return step.record


def kinds(effects: Sequence[Effect]) -> list[str]:
    return [type(effect).__name__ for effect in effects]


def notes(effects: Sequence[Effect]) -> list[Event]:
    return [effect.event for effect in effects if isinstance(effect, Note)]


def confirmed(governance_id: str) -> Reply:
    """The bridge's `Handled` for an answer: it may ride with the next send to the stream."""
    return Reply(STREAM, Handled(governance_id), can_wait=True)


def persisted(step: Step) -> Persist:
    (persist,) = [effect for effect in step.effects if isinstance(effect, Persist)]
    return persist


# -- a client's request ------------------------------------------------------------------


def test_a_valid_request_is_stored_before_it_is_answered_or_sent_to_governance() -> None:
    step = workflow.requested(None, request(), CLIENT, situation())

    assert step.record is not None and step.record.state == "awaiting_signatures"
    assert step.record.attempt == 1 and step.record.signatures_required == 3 * 2
    assert step.parsed is not None and step.parsed.txid == step.record.txid
    # Nothing goes out but the write (and the count of what it pays out); the reply and
    # the request wait for its commit.
    assert kinds(step.effects) == ["CountOutflow", "Persist"]
    assert step.effects[0] == CountOutflow(NOW, step.record.payout_sat)
    persist = persisted(step)
    assert persist.record == step.record and persist.refused_for == CLIENT
    # Its coins are claimed in the same write: another open peg-out cannot spend them.
    assert persist.extra == (Claim("po-1", outpoints(step.parsed), at=NOW),)
    assert persist.then == (Note(Event.ACCEPTED, "po-1"), Reply(CLIENT, PegoutAccepted("po-1")),
                            AskSignatures("po-1", 1))


@pytest.mark.parametrize(("fed", "req", "kind"), [
    (FED, InitiatePegout("", "00", (0,), (1,)), "request_id"),
    (FED, dataclasses.replace(request(), request_id="x" * 201), "request_id"),
    (FED, dataclasses.replace(request(), request_id="po\nINFO forged"), "request_id"),
    (FED, dataclasses.replace(request(), request_id="po-\u2028"), "request_id"),
    (FED, dataclasses.replace(request(), request_id="po-\ud800"), "request_id"),
    (FED, dataclasses.replace(request(), request_id=7), "request_id"),
    (None, request(), "no_federation"),
    (dataclasses.replace(FED, halted=True), request(), "halted"),
    (FED, InitiatePegout("po-1", "zz", (0,), (1,)), "invalid"),
    (FED, dataclasses.replace(request(), amounts=(10**8, 10**8)), "invalid"),
])
def test_a_request_that_cannot_be_served_is_refused_with_its_reason(
        fed: Federation | None, req: InitiatePegout, kind: str) -> None:
    step = workflow.requested(None, req, CLIENT, situation(fed))

    assert step.record is None
    note, reply = step.effects
    assert isinstance(note, Note) and note.event is Event.REJECTED and note.kind == kind
    assert isinstance(reply, Reply) and isinstance(reply.message, PegoutRejected)
    assert reply.message.reason == note.detail


def test_the_same_request_again_is_accepted_once_what_is_stored_is_durable() -> None:
    record = accepted_record()
    upper = dataclasses.replace(request(), tx_hex=request().tx_hex.upper())

    step = workflow.requested(record, upper, CLIENT, situation())

    assert step.effects == (Persist(None, then=(Reply(CLIENT, PegoutAccepted("po-1")),)),)


def test_a_different_request_under_a_used_id_is_refused_as_a_duplicate() -> None:
    step = workflow.requested(accepted_record(), request(seed=7), CLIENT, situation())

    assert notes(step.effects) == [Event.REJECTED]
    assert step.effects[0] == Note(Event.REJECTED, "po-1", kind="duplicate", detail=(
        "request id 'po-1' is already used by a different peg-out"))


def test_a_new_peg_out_whose_write_fails_is_dropped_and_refused() -> None:
    record = accepted_record()

    effects = workflow.not_stored(record, CLIENT, "disk full")

    assert effects[:2] == (Drop(record), CountOutflow(NOW, -record.payout_sat))
    assert effects[3] == Reply(CLIENT, PegoutRejected("po-1", "not stored: disk full"))


# -- governance's answers ----------------------------------------------------------------


def test_a_complete_answer_that_verifies_signs_the_peg_out_then_confirms_and_broadcasts() -> None:
    record = accepted_record()

    step = workflow.answered(record, False, complete(record), 1, STREAM, situation(now=NOW + 5))

    assert step.record is not None and step.record.state == "signed"
    assert step.record.signed_tx_hex and step.record.updated_at == NOW + 5
    assert step.record.signatures_collected == 6 and step.record.revision == 2
    assert notes(step.effects) == [Event.SIGNED]
    assert persisted(step).then == (confirmed("po-1/1"), Broadcast("po-1"))


def test_a_late_complete_answer_to_an_earlier_attempt_is_used() -> None:
    record = dataclasses.replace(accepted_record(), attempt=3)

    step = workflow.answered(record, False, complete(record, attempt=1), 1, STREAM, situation())

    assert step.record is not None and step.record.state == "signed"


@pytest.mark.parametrize(("status", "reason"), [
    ("failed", "governance answered failed: no"),
    ("partial", "governance answered partial: no"),
])
def test_a_final_bad_status_spends_a_retry(status: str, reason: str) -> None:
    record = accepted_record()

    step = workflow.answered(record, False, ApplySignatures("po-1/1", status, (), "no"), 1,
                             STREAM, situation())

    assert step.record is not None and step.record.attempt == 2
    assert step.record.state == "awaiting_signatures" and step.record.error == reason
    assert step.record.failures == (f"attempt 1: {reason}",)
    assert step.record.series_failures == 1
    assert notes(step.effects) == [Event.SIGNATURE_FAILURE, Event.RETRIED]
    assert persisted(step).then == (confirmed("po-1/1"), AskSignatures("po-1", 2))


def test_signatures_that_do_not_verify_cost_an_attempt_with_their_kind() -> None:
    record = accepted_record()
    answer = complete(record, signers=(0, 1))  # too few

    step = workflow.answered(record, False, answer, 1, STREAM, situation())

    failure = step.effects[0]
    assert isinstance(failure, Note) and failure.event is Event.SIGNATURE_FAILURE
    assert failure.kind and failure.detail.startswith("unusable signatures: ")
    assert step.record is not None and step.record.attempt == 2


def test_once_the_retries_are_spent_the_peg_out_fails_for_good() -> None:
    record = dataclasses.replace(accepted_record(), attempt=3, series_failures=2,
                                 failures=("attempt 1: x", "attempt 2: y"))

    step = workflow.answered(record, False, ApplySignatures("po-1/3", "failed"), 3, STREAM,
                             situation(retries=2))

    assert step.record is not None and step.record.state == "failed"
    assert step.record.error == ("no usable signatures after 3 failed attempts; "
                                 "last: governance answered failed")
    assert notes(step.effects) == [Event.SIGNATURE_FAILURE, Event.FAILED]
    assert persisted(step).then == (confirmed("po-1/3"),)


def test_an_older_attempts_bad_answer_changes_nothing() -> None:
    record = dataclasses.replace(accepted_record(), attempt=2)

    step = workflow.answered(record, False, ApplySignatures("po-1/1", "failed"), 1, STREAM,
                             situation())

    assert step.record == record
    assert step.effects == (Note(Event.DUPLICATE_ANSWER, "po-1/1"),
                            confirmed("po-1/1"))


def test_a_pending_answer_is_confirmed_and_changes_nothing() -> None:
    record = accepted_record()

    step = workflow.answered(record, False, ApplySignatures("po-1/1", "pending"), 1, STREAM,
                             situation())

    assert step.record == record and step.effects == (confirmed("po-1/1"),)


@pytest.mark.parametrize(("record", "finished", "event"), [
    (None, False, Event.UNKNOWN_ANSWER),
    (None, True, Event.DUPLICATE_ANSWER),
])
def test_an_answer_for_no_open_peg_out_is_confirmed_and_noted(
        record: PegoutRecord | None, finished: bool, event: Event) -> None:
    answer = ApplySignatures("po-9/1", "complete")

    step = workflow.answered(record, finished, answer, 1, STREAM, situation())

    assert notes(step.effects) == [event] and step.effects[-1] == confirmed("po-9/1")


def test_during_a_halt_answers_are_set_aside_and_nothing_is_asked() -> None:
    record = accepted_record()
    halted = situation(dataclasses.replace(FED, halted=True))

    step = workflow.answered(record, False, complete(record), 1, STREAM, halted)

    assert step.record == record and notes(step.effects) == [Event.SET_ASIDE]
    assert workflow.signature_request(record, halted) is None
    assert workflow.unanswered(record, 1, "timeout", "t", halted).record == record


def test_a_governance_error_retries_after_its_retry_after() -> None:
    record = accepted_record()

    step = workflow.unanswered(record, 1, "governance_error", "rate limited", situation(),
                               delay_s=30.0, code="rate_limited")

    assert persisted(step).then == (AskSignatures("po-1", 2, 30.0),)


@pytest.mark.parametrize(("kind", "code", "delay", "pause"), [
    ("timeout", "", 0.0, 0.0),  # it has waited already: ask again at once
    ("stream_rejected", "", 0.0, 5.0),  # the stream's outbox was full or closed
    ("governance_error", "service_unavailable", 0.0, 5.0),
    ("governance_error", "rate_limited", 10**9, 300.0),  # retry_after capped
    ("governance_error", "authentication_failed", 0.0, 5.0),  # no session yet
])
def test_a_transient_failure_costs_time_not_a_retry(kind: str, code: str, delay: float,
                                                    pause: float) -> None:
    record = accepted_record()

    step = workflow.unanswered(record, 1, kind, "later", situation(), delay, code)

    assert step.record is not None and step.record.attempt == 2
    assert step.record.series_failures == 0 and step.record.failures == ()
    assert notes(step.effects) == [Event.TRANSIENT_FAILURE]
    assert persisted(step).then == (AskSignatures("po-1", 2, pause),)


@pytest.mark.parametrize("code", sorted(workflow.FINAL_ERROR_CODES))
def test_an_error_that_says_the_request_is_wrong_spends_a_retry(code: str) -> None:
    step = workflow.unanswered(accepted_record(), 1, "governance_error", code, situation(),
                               code=code)

    assert step.record is not None and step.record.series_failures == 1


def test_governances_own_timeout_status_is_transient() -> None:
    record = accepted_record()

    step = workflow.answered(record, False, ApplySignatures("po-1/1", "timeout"), 1, STREAM,
                             situation())

    assert step.record is not None and step.record.series_failures == 0
    assert persisted(step).then == (confirmed("po-1/1"), AskSignatures("po-1", 2))


def test_past_the_series_deadline_a_transient_failure_fails_the_peg_out() -> None:
    record = accepted_record()  # created at NOW
    late = situation(now=NOW + RULES.signature_deadline_s)

    step = workflow.unanswered(record, 1, "timeout", "no answer", late)

    assert step.record is not None and step.record.state == "failed"
    assert step.record.error == "no usable signatures within 3600s; last: no answer"


def test_the_bridges_own_clock_ends_an_unanswered_attempt() -> None:
    record = accepted_record()

    step = workflow.expired(record, 1, situation(now=NOW + 90))

    assert step.record is not None and step.record.attempt == 2
    assert notes(step.effects) == [Event.TRANSIENT_FAILURE]
    assert workflow.expired(record, 0, situation()).effects == ()  # an older attempt's time


def test_during_a_halt_the_clock_runs_on_and_the_deadline_still_fails_the_peg_out() -> None:
    record = accepted_record()
    halted = dataclasses.replace(FED, halted=True)

    watched = workflow.expired(record, 1, situation(halted, now=NOW + 90))
    assert watched.record == record and watched.effects == (AskSignatures("po-1", 1),)

    failed = workflow.expired(record, 1, situation(halted, now=NOW + 3600))
    assert failed.record is not None and failed.record.state == "failed"


def failed_record(**changes: object) -> PegoutRecord:
    step = workflow.attempt_failed(
        dataclasses.replace(accepted_record(), attempt=3, series_failures=2), 3, "failed",
        "no", situation())
    assert step.record is not None and step.record.state == "failed"
    return dataclasses.replace(step.record, **changes)  # type: ignore[arg-type]


def test_retry_starts_a_new_series_of_a_failed_peg_out_that_was_never_signed() -> None:
    record = failed_record()

    step = workflow.retry(record, "po-1", CLIENT, situation(now=NOW + 50))

    assert step.record is not None and step.record.state == "awaiting_signatures"
    assert step.record.attempt == 4 and step.record.series_failures == 0
    assert step.record.series_started_at == NOW + 50 and step.record.failures == record.failures
    assert persisted(step).then == (Reply(CLIENT, PegoutAccepted("po-1")),
                                    AskSignatures("po-1", 4))


@pytest.mark.parametrize(("record", "kind"), [
    (None, "unknown"),
    (accepted_record(), "not_failed"),
    (failed_record(signed_tx_hex="00", txid="ab" * 32), "was_signed"),
])
def test_retry_is_refused_unless_the_peg_out_failed_unsigned(
        record: PegoutRecord | None, kind: str) -> None:
    step = workflow.retry(record, "po-1", CLIENT, situation())

    assert step.effects[0] == dataclasses.replace(step.effects[0], kind=kind)  # type: ignore[call-arg]
    assert isinstance(step.effects[1], Reply)
    assert isinstance(step.effects[1].message, PegoutRejected)


def test_the_halt_lifted_asks_again_under_a_new_attempt_and_broadcasts_signed_ones() -> None:
    record = accepted_record()
    signed = workflow.answered(record, False, complete(record), 1, STREAM, situation()).record
    assert signed is not None

    again = workflow.halt_lifted(record, situation())
    assert again.record is not None and again.record.attempt == 2
    assert persisted(again).then == (AskSignatures("po-1", 2),)
    assert workflow.halt_lifted(signed, situation()).effects == (Broadcast("po-1"),)


def test_the_signature_request_names_the_attempt_and_the_threshold() -> None:
    record = dataclasses.replace(accepted_record(), attempt=4)

    asked = workflow.signature_request(record, situation())

    assert asked is not None and asked.request_id == "po-1/4"
    assert asked.required_signatures == 3 and asked.tx_type == "pegout"


# -- broadcasting ------------------------------------------------------------------------


def signed_record() -> PegoutRecord:
    record = accepted_record()
    step = workflow.answered(record, False, complete(record), 1, STREAM, situation())
    assert step.record is not None
    return step.record


def test_a_broadcast_is_stored_before_the_chain_is_told() -> None:
    step = following.broadcast_taken(signed_record(), situation())

    assert step.record is not None and step.record.state == "broadcast"
    assert persisted(step).then == (NotifyChain("po-1", step.record.txid or ""),)


def test_a_broadcast_that_may_work_later_is_tried_later() -> None:
    record = signed_record()

    step = following.broadcast_failed(record, "connection refused", True, situation())

    assert step.record == record and BroadcastLater() in step.effects


def test_a_broadcast_refused_for_good_fails_the_peg_out() -> None:
    step = following.broadcast_failed(signed_record(), "bad-txns", False, situation())

    assert step.record is not None and step.record.state == "failed"
    assert step.record.error == "broadcast refused: bad-txns"
    assert notes(step.effects) == [Event.BROADCAST_REFUSED, Event.FAILED]


# -- any sequence of events --------------------------------------------------------------

FINAL = {PegoutState.BROADCAST.value, PegoutState.FAILED.value}
# What Bitcoin Core may say of a broadcast transaction.
SEEN = st.one_of(st.just(("mempool", 0)), st.tuples(st.just("confirmed"), st.integers(0, 8)),
                 st.just(("unknown", 0)))


class PegoutMachine(RuleBasedStateMachine):
    """One peg-out through any order of answers, errors, halts, broadcasts, what Bitcoin
    Core says of its transaction, a replacement and an operator's word.

    After every step: a record changes only through a `Persist` of that very record,
    the revision only rises, `confirmed` and `replaced` never change, the attempt never
    falls, and every governance answer is confirmed `Handled` to the stream. A peg-out
    signed once keeps its transaction, never gives its coins back (`Release`), and fails
    only when the network refuses it before it is broadcast or an operator says it was
    not paid; its confirmations are never more than Core last said. And what the outflow
    window holds of it (its `CountOutflow`s, summed by time) is what a start would load
    from storage: its payout at the start of its latest series, or nothing once it is
    `replaced` or failed unsigned."""

    def __init__(self) -> None:
        super().__init__()
        step = workflow.requested(None, request(), CLIENT, situation())
        assert step.record is not None
        self.record: PegoutRecord = step.record
        self.halted = False
        self.now = NOW
        self.last_seen = 0  # the confirmations Core last gave the broadcast transaction
        self.counted: dict[float, int] = {}  # sat by the time they were counted at
        self.count(step.effects)

    def count(self, effects: Sequence[Effect]) -> None:
        for effect in _flatten(effects):
            if isinstance(effect, CountOutflow):
                self.counted[effect.at] = self.counted.get(effect.at, 0) + effect.sat

    def situation(self) -> Situation:
        return situation(dataclasses.replace(FED, halted=self.halted), self.now)

    def seen(self, state: str, confirmations: int) -> Seen:
        return Seen(self.record.txid or "", state, confirmations)  # type: ignore[arg-type]

    def apply(self, step: Step, answer: str | None = None, cause: str = "") -> None:
        """`cause`: what the step answers, where an invariant asks ("refused" for good by
        the network, an operator's "not_paid")."""
        assert step.record is not None
        before, after = self.record, step.record
        effects = _flatten(step.effects)
        if before.state in ("confirmed", "replaced"):
            assert after == before
        persisted_records = [e.record for e in step.effects
                             if isinstance(e, Persist) and e.record is not None]
        assert persisted_records == ([after] if after != before else [])
        if after != before:
            assert after.revision == before.revision + 1
            # From `broadcast` only on along the transaction's way; `failed` only back to
            # work by a retry, and only when it was never signed (a signed transaction may
            # have been paid), or to `replaced` by a replacement of its signed transaction.
            if before.state == "broadcast":
                assert after.state in ("broadcast", "confirmed", "needs_review", "replaced")
            if before.state == "failed":
                if before.signed_tx_hex is None:
                    assert after.state == "awaiting_signatures"
                    assert after.series_failures == 0
                else:
                    assert after.state == "replaced"
            assert after.attempt >= before.attempt
        if before.signed_tx_hex is not None:
            assert after.signed_tx_hex == before.signed_tx_hex
            if after.state == "failed" and before.state != "failed":
                assert (before.state, cause) in (("signed", "refused"),
                                                 ("needs_review", "not_paid"))
        for persist in (e for e in effects if isinstance(e, Persist)):
            if any(isinstance(extra, Release) for extra in persist.extra):
                assert before.signed_tx_hex is None
                assert persist.record is not None and persist.record.signed_tx_hex is None
        if answer is not None:
            handled = [e for e in effects
                       if isinstance(e, Reply) and e.message == Handled(answer)]
            assert len(handled) == 1
        self.count(step.effects)
        self.record = after
        self.now += 1

    @initialize(signed=st.booleans())
    def begin(self, signed: bool) -> None:
        """Half the runs start from the first answer, signed, to spend their steps on what
        comes after (the broadcast, Core, an operator)."""
        if signed:
            answer = complete(self.record)
            self.apply(workflow.answered(self.record, False, answer, 1, STREAM,
                                         self.situation()), answer.request_id)

    @rule(attempt_back=st.integers(0, 2), good=st.booleans())
    def governance_answers(self, attempt_back: int, good: bool) -> None:
        attempt = max(1, self.record.attempt - attempt_back)
        answer = (complete(self.record, attempt) if good
                  else ApplySignatures(f"po-1/{attempt}", "failed", (), "refused"))
        self.apply(workflow.answered(self.record, False, answer, attempt, STREAM,
                                     self.situation()), answer.request_id)

    @rule(delay=st.sampled_from([0.0, 5.0]))
    def governance_errs(self, delay: float) -> None:
        self.apply(workflow.unanswered(self.record, self.record.attempt, "governance_error",
                                       "unavailable", self.situation(), delay))

    @rule(seconds=st.sampled_from([1.0, 600.0, 1800.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def the_bridges_clock_ends_the_attempt(self) -> None:
        overdue = self.now - self.record.series_start >= RULES.signature_deadline_s
        was_open = self.record.state == "awaiting_signatures"
        self.apply(workflow.expired(self.record, self.record.attempt, self.situation()))
        if was_open and overdue:
            # Liveness: once the series deadline has passed, the clock's next tick ends it,
            # halted or not, whatever governance did or did not send.
            assert self.record.state == "failed"

    @rule()
    def a_client_retries(self) -> None:
        self.apply(workflow.retry(self.record, "po-1", CLIENT, self.situation()))

    @rule()
    def halt(self) -> None:
        self.halted = True

    @precondition(lambda self: self.halted)
    @rule()
    def lift(self) -> None:
        self.halted = False
        self.apply(workflow.halt_lifted(self.record, self.situation()))

    @precondition(lambda self: self.record.state == "signed")
    @rule(outcome=st.sampled_from(["taken", "later", "refused"]))
    def broadcast(self, outcome: str) -> None:
        if outcome == "taken":
            self.apply(following.broadcast_taken(self.record, self.situation()))
            self.last_seen = 0
        else:
            self.apply(following.broadcast_failed(self.record, "x", outcome == "later",
                                                 self.situation()), cause=outcome)

    @rule(seen=SEEN)
    def core_follows_the_transaction(self, seen: tuple[str, int]) -> None:
        followed = self.record.state == "broadcast"
        self.apply(following.followed(self.record, self.seen(*seen), self.situation()))
        if followed:
            self.last_seen = seen[1]

    @precondition(lambda self: self.record.state in ("signed", "broadcast"))
    @rule(seen=SEEN, retryable=st.booleans())
    def the_broadcast_finds_its_inputs_spent(self, seen: tuple[str, int],
                                             retryable: bool) -> None:
        self.apply(following.broadcast_failed(self.record, "bad-txns-inputs-missingorspent",
                                              retryable, self.situation(), self.seen(*seen)))
        self.last_seen = seen[1]

    @precondition(lambda self: self.record.state == "needs_review")
    @rule(outcome=st.sampled_from(RESOLUTIONS))
    def an_operator_resolves(self, outcome: str) -> None:
        step = following.resolve(self.record, "po-1", outcome, CLIENT, self.situation())
        assert step.record is not None and step.record.resolution == outcome
        self.apply(step, cause=outcome)

    # Admission lets only a signed peg-out be replaced; one still `signed` is left to
    # test_following, so that most runs get as far as following the broadcast.
    @precondition(lambda self: self.record.signed_tx_hex is not None
                  and self.record.state != "signed")
    @rule()
    def a_replacement_is_broadcast(self) -> None:
        coins = outpoints(workflow.parse_record(self.record))
        self.apply(following.superseded(self.record, "po-2", coins, self.situation()))

    @invariant()
    def failures_stay_within_the_retries(self) -> None:
        assert self.record.series_failures <= RULES.signature_retries + 1
        # The history keeps every series' failures; a retry starts the count afresh.
        assert len(self.record.failures) >= self.record.series_failures
        error = self.record.error or ""
        if self.record.state == "failed" and error.startswith("no usable signatures after"):
            assert self.record.series_failures == RULES.signature_retries + 1

    @invariant()
    def a_signed_record_has_its_transaction(self) -> None:
        if self.record.state in ("signed", "broadcast"):
            assert self.record.signed_tx_hex and self.record.txid

    @invariant()
    def the_window_holds_what_storage_would_load(self) -> None:
        record = self.record
        # `actors.storage.database.OUTFLOW`: all but the replaced and the failed unsigned,
        # at max(created_at, series_started_at).
        loaded = record.state != "replaced" and (record.state != "failed"
                                                 or record.signed_tx_hex is not None)
        held = {at: sat for at, sat in self.counted.items() if sat != 0}
        assert held == ({record.series_start: record.payout_sat} if loaded else {})

    @invariant()
    def confirmations_are_never_more_than_core_last_said(self) -> None:
        state, resolved = self.record.state, self.record.resolution is not None
        if state == "broadcast" or (state == "confirmed" and not resolved):
            assert self.record.confirmations <= self.last_seen
        if state == "confirmed" and not resolved:
            assert self.record.confirmations >= RULES.confirmations


def _flatten(effects: Sequence[Effect]) -> list[Effect]:
    flat: list[Effect] = []
    for effect in effects:
        flat.append(effect)
        if isinstance(effect, Persist):
            flat.extend(_flatten(effect.then))
    return flat


TestPegoutMachine = PegoutMachine.TestCase
TestPegoutMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
