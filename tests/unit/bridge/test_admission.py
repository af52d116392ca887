"""What a new peg-out must pass before anything of it is stored (`actors.bridge.admission`),
through `workflow.requested`; the coins it reserves, and what gives them back: a refused
first write, a retry, the failures of a peg-out never signed."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import pytest
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from actors.bridge import following, workflow
from actors.bridge.admission import REPLACEMENT_OF
from actors.bridge.effects import (
    AskSignatures,
    CountOutflow,
    Drop,
    Effect,
    Event,
    Note,
    Reply,
)
from actors.bridge.outflow import OutflowWindow
from actors.bridge.rpc import Seen
from actors.bridge.workflow import Situation, Step
from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected
from actors.storage.records import Claim, Held, PegoutRecord, Release
from btc.errors import POLICY_VIOLATION_KINDS, PolicyViolation
from btc.pegout import parse_pegout
from btc.policy import check_spend, outpoints, p2wsh_script_pubkey, signed_vsize
from btc.testing import make_unsigned_pegout
from tests.unit.bridge.test_workflow import (
    CLIENT,
    FED,
    NOW,
    RULES,
    STREAM,
    accepted_record,
    complete,
    failed_record,
    kinds,
    persisted,
    request,
    signed_record,
    situation,
)

BTC = 100_000_000
DAY_S = 86_400.0
CHANGE = p2wsh_script_pubkey(FED.witness_script)  # the federation's own address
PAYEE = bytes.fromhex("0014" + "5a" * 20)  # P2WPKH: dust under 294 sat
LEGACY_PAYEE = bytes.fromhex("76a914" + "a5" * 20 + "88ac")  # P2PKH: dust under 546 sat
DATA = bytes.fromhex("6a03616c79")  # OP_RETURN "aly"


def coin(number: int) -> tuple[bytes, int]:
    """A made-up federation coin: (prevout txid, vout)."""
    return bytes([0xC0, number]) * 16, number


def tx_hex(outputs: Sequence[tuple[int, bytes]], coins: Sequence[tuple[bytes, int]], *,
           version: int = 2, locktime: int = 0) -> str:
    tx = Transaction(
        version=version,
        vin=[TransactionInput(txid, vout, sequence=0xFFFFFFFD) for txid, vout in coins],
        vout=[TransactionOutput(value, Script(script)) for value, script in outputs],
        locktime=locktime)
    return tx.serialize().hex()


def initiate(outputs: Sequence[tuple[int, bytes]], amounts: Sequence[int] = (50_000, 50_000),
             *, coins: Sequence[tuple[bytes, int]] | None = None,
             indices: Sequence[int] | None = None, version: int = 2,
             locktime: int = 0) -> InitiatePegout:
    """A peg-out spending one coin per amount (unless `coins` says otherwise) to `outputs`;
    `indices` are the inputs the federation signs (all, unless given), `amounts` theirs."""
    spent = list(coins) if coins is not None else [coin(n) for n in range(len(amounts))]
    signed = tuple(indices) if indices is not None else tuple(range(len(spent)))
    return InitiatePegout("po-1", tx_hex(outputs, spent, version=version, locktime=locktime),
                          signed, tuple(amounts))


def fee_at(rate_sat_vb: float, scripts: Sequence[bytes], n_inputs: int) -> int:
    """The fee that pays `rate_sat_vb` over the signed size of a peg-out spending `n_inputs`
    coins to outputs with `scripts` (an output's value does not change its size)."""
    draft = tx_hex([(0, script) for script in scripts], [coin(n) for n in range(n_inputs)])
    parsed = parse_pegout(draft, tuple(range(n_inputs)), (1,) * n_inputs, max_pegout_sat=BTC)
    return math.ceil(rate_sat_vb * signed_vsize(parsed, FED.witness_script, FED.threshold))


def roomy(**changes: object) -> Situation:
    """A situation whose per-peg-out limit lets the spending policy speak first."""
    return dataclasses.replace(situation(), rules=dataclasses.replace(
        RULES, max_pegout_sat=100 * BTC), **changes)


def with_outflow(window: OutflowWindow, now: float = NOW) -> Situation:
    return dataclasses.replace(situation(now=now), outflow=window.refusal)


def full_window(used_sat: int = 90_000, cap_sat: int = 100_000) -> OutflowWindow:
    window = OutflowWindow(DAY_S, cap_sat)
    window.add(NOW, used_sat)
    return window


def refusal(step: Step, rid: str = "po-1") -> tuple[str, str]:
    """(kind, reason) of a refusal that stores, counts and sends nothing else."""
    note, reply = step.effects
    assert isinstance(note, Note) and note.event is Event.REJECTED and note.request_id == rid
    assert reply == Reply(CLIENT, PegoutRejected(rid, note.detail))
    return note.kind, note.detail


def counted(effects: Sequence[Effect]) -> list[CountOutflow]:
    return [effect for effect in effects if isinstance(effect, CountOutflow)]


# -- the spending policy -------------------------------------------------------------------

HIGH_RATE_AMOUNTS = (500_000, 500_000)

POLICY_CASES = [
    pytest.param(initiate([(546, LEGACY_PAYEE)], (10 * BTC,)), "fee_high",
                 "at most 1,000,000 sat is allowed", id="ten_btc_in_546_sat_out"),
    pytest.param(initiate([(90_000, PAYEE)], coins=[coin(0), coin(0)]), "duplicate_outpoint",
                 "inputs 0 and 1 both spend", id="same_outpoint_twice"),
    pytest.param(initiate([(100_001, PAYEE)]), "outputs_exceed_inputs",
                 "the outputs pay 100,001 sat but the inputs hold only 100,000 sat",
                 id="outputs_over_inputs"),
    pytest.param(initiate([(600, PAYEE)] * 101), "too_many_outputs",
                 "the peg-out has 101 outputs; at most 100 are allowed", id="too_many_outputs"),
    pytest.param(initiate([(90_000, PAYEE), (293, PAYEE)]), "dust",
                 "output 1 (p2wpkh) pays 293 sat, under the dust limit of 294 sat",
                 id="dust_output"),
    pytest.param(initiate([(90_000, PAYEE), (1_000, DATA)]), "burn",
                 "output 1 (op_return) can never be spent yet carries 1,000 sat",
                 id="op_return_with_value"),
    pytest.param(initiate([(100_000, PAYEE)]), "fee_rate_low",
                 "at least 1 sat/vB is needed to relay", id="fee_rate_too_low"),
    pytest.param(initiate([(sum(HIGH_RATE_AMOUNTS) - fee_at(600, [PAYEE], 2), PAYEE)],
                          HIGH_RATE_AMOUNTS),
                 "fee_rate_high", "at most 500 sat/vB is allowed", id="fee_rate_too_high"),
    pytest.param(initiate([(40_000, PAYEE), (29_000, CHANGE), (29_000, CHANGE)]),
                 "change_outputs", "2 outputs pay the federation's own script back",
                 id="two_change_outputs"),
    pytest.param(initiate([(99_000, PAYEE)], version=1), "version",
                 "the transaction has version 1; allowed: 2", id="version_1"),
    pytest.param(initiate([(99_000, PAYEE)], locktime=5), "locktime",
                 "the transaction's lock time is 5; at most 0 is allowed", id="locktime_5"),
    pytest.param(initiate([(99_000, PAYEE)], (50_000,), coins=[coin(0), coin(1)],
                          indices=(0,)),
                 "inputs_not_covered", "input 1 is not in input_indices",
                 id="an_input_not_signed"),
    pytest.param(initiate([(10 * BTC + 1, PAYEE), (BTC, CHANGE)], (6 * BTC, 6 * BTC)),
                 "payout_high", "the peg-out pays out 1,000,000,001 sat",
                 id="payout_over_ten_btc"),
]


@pytest.mark.parametrize(("req", "kind", "words"), POLICY_CASES)
def test_each_spending_policy_rule_refuses_with_its_kind_and_its_sentence(
        req: InitiatePegout, kind: str, words: str) -> None:
    step = workflow.requested(None, req, CLIENT, roomy())

    assert step.record is None
    refused_kind, reason = refusal(step)
    assert refused_kind == kind and words in reason
    # Word for word what the policy says.
    with pytest.raises(PolicyViolation) as caught:
        check_spend(parse_pegout(req.tx_hex, req.input_indices, req.amounts,
                                 max_pegout_sat=100 * BTC),
                    witness_script=FED.witness_script, threshold=FED.threshold,
                    policy=RULES.policy)
    assert reason == str(caught.value)


def test_every_rule_of_the_spending_policy_has_a_refusal_case_here() -> None:
    assert {case.values[1] for case in POLICY_CASES} == POLICY_VIOLATION_KINDS


def test_an_accepted_peg_out_records_what_it_pays_out_without_its_change() -> None:
    fee = fee_at(3, [PAYEE, CHANGE], 2)
    req = initiate([(60_000, PAYEE), (40_000 - fee, CHANGE)])

    step = workflow.requested(None, req, CLIENT, roomy())

    assert step.record is not None
    assert step.record.payout_sat == 60_000 and step.record.fee_sat == fee
    assert counted(step.effects) == [CountOutflow(NOW, 60_000)]


# -- the outflow window --------------------------------------------------------------------


def test_a_peg_out_over_the_outflow_cap_is_refused_saying_when_room_returns() -> None:
    window = full_window()
    payout = accepted_record().payout_sat  # about 99,300 sat

    step = workflow.requested(None, request(), CLIENT, with_outflow(window))

    assert step.record is None
    kind, reason = refusal(step)
    # The 90,000 sat counted at NOW sit in the minute bucket [960, 1020): they count until a
    # day after it ends.
    assert kind == "outflow" and reason == (
        f"paying {payout:,} sat more would go over the outflow cap of 100,000 sat per 24 h: "
        f"90,000 sat was paid in the window; room for {payout:,} sat returns in 86,420 s, "
        "at 1970-01-02T00:17:00Z")
    assert window.used(NOW) == 90_000


def test_a_peg_out_that_fits_the_outflow_window_is_counted_against_it() -> None:
    window = full_window(used_sat=0, cap_sat=BTC)

    step = workflow.requested(None, request(), CLIENT, with_outflow(window))

    assert step.record is not None
    assert counted(step.effects) == [CountOutflow(NOW, step.record.payout_sat)]


# -- replacements --------------------------------------------------------------------------


def replacement(rid: str = "po-2", replaces: str = "po-1", seed: int = 0) -> InitiatePegout:
    """A peg-out with the same coins as `request(seed=seed)` and a higher fee."""
    tx, indices, amounts = make_unsigned_pegout(FED.witness_script, seed=seed,
                                                fee_rate_sat_vb=5.0)
    return InitiatePegout(rid, tx, indices, amounts, replaces=replaces)


def refused_by_network() -> PegoutRecord:
    step = following.broadcast_failed(signed_record(), "bad-txns-nonfinal", False, situation())
    assert step.record is not None and step.record.state == "failed"
    return step.record


def in_review() -> PegoutRecord:
    record = signed_record()
    step = following.broadcast_failed(record, "bad-txns-inputs-missingorspent", False,
                                      situation(), Seen(record.txid or "", "unknown"))
    assert step.record is not None and step.record.state == "needs_review"
    return step.record


def broadcast() -> PegoutRecord:
    step = following.broadcast_taken(signed_record(), situation())
    assert step.record is not None
    return step.record


@pytest.mark.parametrize("original", [
    pytest.param(signed_record, id="signed"),
    pytest.param(broadcast, id="broadcast"),
    pytest.param(in_review, id="needs_review"),
    pytest.param(refused_by_network, id="failed_after_signing"),
])
def test_a_replacement_sharing_a_coin_with_a_signed_original_is_accepted_uncounted(
        original: object) -> None:
    assert callable(original)
    # Even with the window full: it pays what the original would have, once.
    step = workflow.requested(None, replacement(), CLIENT, with_outflow(full_window()),
                              original())

    assert step.record is not None and step.record.replaces == "po-1"
    assert step.record.state == "awaiting_signatures"
    assert kinds(step.effects) == ["Persist"]  # no CountOutflow
    assert step.parsed is not None
    assert persisted(step).extra == (
        Claim("po-2", (*outpoints(step.parsed), REPLACEMENT_OF + "po-1"), shares_with="po-1",
              at=NOW),)
    assert persisted(step).then[1:] == (Reply(CLIENT, PegoutAccepted("po-2")),
                                       AskSignatures("po-2", 1))


def confirmed_original() -> PegoutRecord:
    record = signed_record()
    step = following.broadcast_taken(record, situation(),
                                     Seen(record.txid or "", "confirmed", 6))
    assert step.record is not None and step.record.state == "confirmed"
    return step.record


def replaced_original() -> PegoutRecord:
    step = following.superseded(broadcast(), "po-0", (), situation())
    assert step.record is not None and step.record.state == "replaced"
    return step.record


@pytest.mark.parametrize(("req", "original", "reason"), [
    pytest.param(replacement(rid="po-1"), signed_record,
                 "peg-out 'po-1' cannot replace itself", id="itself"),
    pytest.param(replacement(), lambda: None, "no peg-out 'po-1' to replace", id="unknown"),
    pytest.param(replacement(), confirmed_original,
                 "peg-out 'po-1' is confirmed: it was paid", id="confirmed"),
    pytest.param(replacement(), replaced_original,
                 "peg-out 'po-1' was already replaced by 'po-0'; replace that one",
                 id="replaced"),
    pytest.param(replacement(), accepted_record,
                 "peg-out 'po-1' is awaiting_signatures and was never signed: there is "
                 "nothing to replace", id="awaiting"),
    pytest.param(replacement(), failed_record,
                 "peg-out 'po-1' is failed and was never signed: there is nothing to replace",
                 id="failed_unsigned"),
    pytest.param(replacement(seed=5), signed_record,
                 "the replacement spends no coin of peg-out 'po-1', so both could be paid",
                 id="no_shared_coin"),
])
def test_a_replacement_that_could_not_conflict_with_its_original_is_refused(
        req: InitiatePegout, original: object, reason: str) -> None:
    assert callable(original)

    step = workflow.requested(None, req, CLIENT, situation(), original())

    assert step.record is None
    assert refusal(step, req.request_id) == ("replacement", reason)


# -- a coin another peg-out holds ----------------------------------------------------------


def test_a_new_peg_out_whose_coin_is_held_is_dropped_uncounted_and_refused() -> None:
    written = accepted_record("po-3")
    point = outpoints(workflow.parse_record(written))[1]

    effects = workflow.coin_held(Held(point, "po-9"), written, CLIENT)

    reason = f"coin {point} is reserved by peg-out 'po-9'"
    assert effects == (Drop(written), CountOutflow(NOW, -written.payout_sat),
                       Note(Event.REJECTED, "po-3", kind="coin_reserved", detail=reason),
                       Reply(CLIENT, PegoutRejected("po-3", reason)))


def test_a_replacement_of_a_peg_out_already_being_replaced_is_dropped_and_refused() -> None:
    written = workflow.requested(None, replacement(), CLIENT, situation(), signed_record()).record
    assert written is not None

    effects = workflow.coin_held(Held(REPLACEMENT_OF + "po-1", "po-3"), written, CLIENT)

    reason = "peg-out 'po-1' is already being replaced by 'po-3'"
    assert effects == (Drop(written),  # it was never counted: nothing to take back
                       Note(Event.REJECTED, "po-2", kind="coin_reserved", detail=reason),
                       Reply(CLIENT, PegoutRejected("po-2", reason)))


# -- a retry reclaims what failing gave back ---------------------------------------------


def test_a_retry_reclaims_the_coins_and_counts_the_outflow_again() -> None:
    record = failed_record()
    later = NOW + 7_200

    step = workflow.retry(record, "po-1", CLIENT, situation(now=later))

    assert step.record is not None and step.record.state == "awaiting_signatures"
    assert counted(step.effects) == [CountOutflow(later, record.payout_sat)]
    persist = persisted(step)
    assert persist.reclaim and persist.refused_for == CLIENT
    assert persist.extra == (Claim("po-1", outpoints(workflow.parse_record(record)), at=later),)


def test_a_retry_is_refused_while_the_outflow_window_is_full() -> None:
    record = failed_record()

    step = workflow.retry(record, "po-1", CLIENT, with_outflow(full_window()))

    assert step.record == record
    kind, reason = refusal(step)
    assert kind == "outflow" and "room for" in reason


def test_a_retried_replacement_reclaims_its_token_uncounted_even_with_the_window_full() -> None:
    failing = workflow.requested(None, replacement(), CLIENT, situation(), signed_record()).record
    assert failing is not None
    failed = workflow.attempt_failed(dataclasses.replace(failing, series_failures=2), 1,
                                     "failed", "no", situation()).record
    assert failed is not None and failed.state == "failed"

    step = workflow.retry(failed, "po-2", CLIENT, with_outflow(full_window()))

    assert counted(step.effects) == []
    coins = outpoints(workflow.parse_record(failed))
    assert persisted(step).extra == (
        Claim("po-2", (*coins, REPLACEMENT_OF + "po-1"), shares_with="po-1", at=NOW),)


def test_a_retry_whose_coin_is_held_now_is_dropped_uncounted_and_refused_naming_the_holder(
) -> None:
    again = workflow.retry(failed_record(), "po-1", CLIENT, situation()).record
    assert again is not None

    step = workflow.reclaim_refused(again, Held("ab" * 32 + ":0", "po-7"), CLIENT, situation())

    reason = f"coin {'ab' * 32}:0 is reserved by peg-out 'po-7' now"
    assert step.record is None
    assert step.effects == (Drop(again), CountOutflow(NOW, -again.payout_sat),
                            Note(Event.REJECTED, "po-1", kind="coin_reserved", detail=reason),
                            Reply(CLIENT, PegoutRejected("po-1", reason)))


def replay(window: OutflowWindow, *steps: Step | Sequence[Effect]) -> OutflowWindow:
    """Count each `CountOutflow` of `steps` into `window`, as the actor does."""
    for step in steps:
        effects = step.effects if isinstance(step, Step) else step
        for count in counted(effects):
            if count.sat >= 0:
                window.add(count.at, count.sat)
            else:
                window.take_back(count.at, -count.sat)
    return window


@pytest.mark.xfail(strict=True, reason=(
    "reclaim_refused takes the outflow back at situation.now_s, not at the time retry "
    "counted it (again.series_started_at): a refusal that arrives in another minute "
    "bucket takes back nothing"))
def test_a_refused_retry_takes_back_exactly_what_the_retry_counted() -> None:
    record = failed_record()
    retried = workflow.retry(record, "po-1", CLIENT, situation(now=NOW + 7_200))
    assert retried.record is not None
    refused = workflow.reclaim_refused(retried.record, Held("ab" * 32 + ":0", "po-7"), CLIENT,
                                       situation(now=NOW + 7_320))

    window = replay(OutflowWindow(DAY_S, BTC), retried, refused)

    assert window.used(NOW + 7_400) == 0


# -- failing gives the coins back, unless the peg-out was signed -----------------------


def test_a_peg_out_out_of_retries_releases_its_coins_and_leaves_the_window() -> None:
    record = dataclasses.replace(accepted_record(), attempt=3, series_failures=2)

    step = workflow.attempt_failed(record, 3, "failed", "no", situation(now=NOW + 30))

    assert step.record is not None and step.record.state == "failed"
    assert counted(step.effects) == [CountOutflow(NOW, -record.payout_sat)]
    assert persisted(step).extra == (Release("po-1"),)


@pytest.mark.parametrize("halted", [False, True])
def test_a_peg_out_past_its_deadline_releases_its_coins_and_leaves_the_window(
        halted: bool) -> None:
    record = accepted_record()
    late = situation(dataclasses.replace(FED, halted=halted),
                     now=NOW + RULES.signature_deadline_s)

    step = workflow.expired(record, 1, late)

    assert step.record is not None and step.record.state == "failed"
    assert counted(step.effects) == [CountOutflow(NOW, -record.payout_sat)]
    assert persisted(step).extra == (Release("po-1"),)


@pytest.mark.xfail(strict=True, reason=(
    "workflow._uncounted takes the outflow back at record.created_at, but a retried "
    "series counted it at its series_started_at: the second failure un-counts the first "
    "series' bucket (already taken back, or another peg-out's) and leaves the retry's"))
def test_a_retried_peg_out_that_fails_again_leaves_the_window_empty() -> None:
    accepted = workflow.requested(None, request(), CLIENT, situation())
    assert accepted.record is not None
    first = workflow.attempt_failed(dataclasses.replace(accepted.record, series_failures=2), 1,
                                    "failed", "no", situation(now=NOW + 30))
    assert first.record is not None
    retried = workflow.retry(first.record, "po-1", CLIENT, situation(now=NOW + 7_200))
    assert retried.record is not None
    again = dataclasses.replace(retried.record, series_failures=2)
    second = workflow.attempt_failed(again, again.attempt, "failed", "no",
                                     situation(now=NOW + 7_230))

    window = replay(OutflowWindow(DAY_S, BTC), accepted, first, retried, second)

    assert window.used(NOW + 7_300) == 0


def test_a_signed_peg_out_refused_by_the_network_keeps_its_coins_and_its_count() -> None:
    step = following.broadcast_failed(signed_record(), "bad-txns-nonfinal", False, situation())

    assert step.record is not None and step.record.state == "failed"
    assert counted(step.effects) == []
    assert persisted(step).extra == ()


def test_the_answer_that_signs_a_peg_out_neither_claims_nor_releases() -> None:
    record = accepted_record()

    step = workflow.answered(record, False, complete(record), 1, STREAM, situation())

    assert counted(step.effects) == [] and persisted(step).extra == ()
