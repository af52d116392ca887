"""What a new peg-out must pass before anything of it is stored (`actors.bridge.admission`),
through `workflow.requested`; the coins it reserves, and what gives them back: a refused
first write, a retry, the failures of a peg-out never signed."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path

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
    Supersede,
)
from actors.bridge.outflow import OutflowWindow
from actors.bridge.rpc import Seen
from actors.bridge.workflow import Situation, Step
from actors.messages import InitiatePegout, PegoutAccepted, PegoutRejected
from actors.storage.database import Database
from actors.storage.records import Claim, Held, OutflowEntry, PegoutRecord, Release
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


def with_outflow(window: OutflowWindow, now: float = NOW,
                 asked: list[tuple[float, int]] | None = None) -> Situation:
    """A situation whose outflow window is `window`; `asked`, if given, gets every
    (time, sat) the decision asks the window about."""
    def refusal(now_s: float, sat: int) -> str | None:
        if asked is not None:
            asked.append((now_s, sat))
        return window.refusal(now_s, sat)
    return dataclasses.replace(situation(now=now), outflow=refusal)


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


def replacing(original: PegoutRecord, outputs: Sequence[tuple[int, bytes]],
              extra: Sequence[tuple[tuple[bytes, int], int]] = ()) -> InitiatePegout:
    """`po-2`, replacing `original`: its coins and the federation's coins `extra`
    ((coin, amount) each), paid to `outputs`."""
    spent = [(bytes.fromhex(tx_input.prev_txid), tx_input.vout)
             for tx_input in workflow.parse_record(original).inputs]
    coins = [*spent, *(extra_coin for extra_coin, _ in extra)]
    amounts = (*original.amounts, *(amount for _, amount in extra))
    return InitiatePegout("po-2", tx_hex(outputs, coins), tuple(range(len(coins))), amounts,
                          replaces=original.request_id)


def paying_less(original: PegoutRecord) -> InitiatePegout:
    """A fee bump: the same coins, a higher fee, so less to the payee."""
    return replacement()


def paying_the_same(original: PegoutRecord) -> InitiatePegout:
    """The same payout, its higher fee from a coin more (its rest back as change)."""
    amounts = (*original.amounts, 50_000)
    fee = fee_at(5, [PAYEE, CHANGE], 3)
    change = sum(amounts) - original.payout_sat - fee
    return replacing(original, [(original.payout_sat, PAYEE), (change, CHANGE)],
                     [(coin(9), 50_000)])


def paying_more(original: PegoutRecord, extra_sat: int) -> tuple[InitiatePegout, int]:
    """A replacement that adds a coin of `extra_sat` and pays it all out; and its payout."""
    payout = sum(original.amounts) + extra_sat - fee_at(3, [PAYEE], 3)
    return replacing(original, [(payout, PAYEE)], [(coin(9), extra_sat)]), payout


@pytest.mark.parametrize("original", [
    pytest.param(signed_record, id="signed"),
    pytest.param(broadcast, id="broadcast"),
    pytest.param(in_review, id="needs_review"),
    pytest.param(refused_by_network, id="failed_after_signing"),
])
@pytest.mark.parametrize(("asked_for", "less"), [
    pytest.param(paying_less, True, id="less"),
    pytest.param(paying_the_same, False, id="same"),
])
def test_a_replacement_paying_out_no_more_than_its_original_is_accepted_and_counted(
        original: Callable[[], PegoutRecord],
        asked_for: Callable[[PegoutRecord], InitiatePegout], less: bool) -> None:
    before = original()
    req = asked_for(before)
    window = full_window()  # 90,000 of 100,000 sat: no room for the original's 99,358
    asked: list[tuple[float, int]] = []

    step = workflow.requested(None, req, CLIENT, with_outflow(window, asked=asked), before)

    record = step.record
    assert record is not None and record.replaces == "po-1"
    assert record.state == "awaiting_signatures"
    assert record.fee_sat > before.fee_sat
    assert (record.payout_sat < before.payout_sat) if less else (
        record.payout_sat == before.payout_sat)
    # It adds nothing to what the original pays out: the window is not even asked. But
    # it is counted whole, as storage counts it, until its original is `replaced`.
    assert asked == []
    assert kinds(step.effects) == ["CountOutflow", "Persist"]
    assert step.effects[0] == CountOutflow(NOW, record.payout_sat)
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


def test_a_replacement_paying_out_more_than_its_original_is_refused_when_that_does_not_fit(
) -> None:
    original = signed_record()
    bigger, payout = paying_more(original, 20_000)
    added = payout - original.payout_sat
    window = full_window()  # room for 10,000 sat
    asked: list[tuple[float, int]] = []

    step = workflow.requested(None, bigger, CLIENT, with_outflow(window, asked=asked), original)

    assert step.record is None
    assert 10_000 < added < payout
    # Asked for what it adds, not for its whole payout.
    assert asked == [(NOW, added)]
    assert refusal(step, "po-2") == ("outflow", (
        f"paying {added:,} sat more would go over the outflow cap of 100,000 sat per 24 h: "
        f"90,000 sat was paid in the window; room for {added:,} sat returns in 86,420 s, "
        "at 1970-01-02T00:17:00Z"))
    assert window.used(NOW) == 90_000


def test_a_replacement_paying_out_more_is_accepted_when_what_it_adds_fits_and_counted_whole(
) -> None:
    original = signed_record()
    bigger, payout = paying_more(original, 20_000)
    added = payout - original.payout_sat
    window = full_window(used_sat=70_000)  # room for 30,000 sat: what it adds, not its payout
    asked: list[tuple[float, int]] = []

    step = workflow.requested(None, bigger, CLIENT, with_outflow(window, asked=asked), original)

    assert step.record is not None and step.record.payout_sat == payout
    assert added <= 30_000 < payout
    assert asked == [(NOW, added)]
    assert kinds(step.effects) == ["CountOutflow", "Persist"]
    assert step.effects[0] == CountOutflow(NOW, payout)


def test_a_replacement_and_its_original_both_count_until_the_original_is_replaced_as_stored(
        tmp_path: Path) -> None:
    """Memory's window and what a start loads from storage agree at each step: both count
    the two until the replacement's broadcast makes the original `replaced`."""
    later, broadcast_at = NOW + 600, NOW + 660
    accepted = workflow.requested(None, request(), CLIENT, situation())
    assert accepted.record is not None
    signed = workflow.answered(accepted.record, False, complete(accepted.record), 1, STREAM,
                               situation()).record
    assert signed is not None
    original = following.broadcast_taken(signed, situation()).record
    assert original is not None
    asked = workflow.requested(None, replacement(), CLIENT, situation(now=later), original)
    assert asked.record is not None
    answered = workflow.answered(asked.record, False, complete(asked.record), 1, STREAM,
                                 situation(now=later)).record
    assert answered is not None
    sent = following.broadcast_taken(answered, situation(now=broadcast_at))
    assert sent.record is not None
    [supersede] = [e for e in persisted(sent).then if isinstance(e, Supersede)]
    replaced = following.superseded(original, supersede.by, supersede.outpoints,
                                    situation(now=broadcast_at))
    assert replaced.record is not None and replaced.record.state == "replaced"
    assert counted(replaced.effects) == [CountOutflow(NOW, -original.payout_sat)]
    database = Database.open(str(tmp_path / "node.sqlite3"))
    try:
        def stored(*records: PegoutRecord) -> OutflowWindow:
            database.write(records)
            return replay(OutflowWindow(DAY_S, BTC), [
                CountOutflow(entry.at, entry.payout_sat)
                for entry in database.outflow(since=0.0)])

        both = stored(original, asked.record)
        memory = replay(OutflowWindow(DAY_S, BTC), accepted, asked)
        assert memory.used(broadcast_at) == both.used(broadcast_at) == (
            original.payout_sat + asked.record.payout_sat)
        after = stored(replaced.record, sent.record)
        assert database.outflow(since=0.0) == [OutflowEntry(later, sent.record.payout_sat)]
        replay(memory, replaced)
        assert memory.used(broadcast_at) == after.used(broadcast_at) == sent.record.payout_sat
    finally:
        database.close()


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
    assert effects == (Drop(written), CountOutflow(NOW, -written.payout_sat),
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


def failed_replacement() -> PegoutRecord:
    """`po-2`, replacing the signed `po-1`, out of retries before it was ever signed."""
    failing = workflow.requested(None, replacement(), CLIENT, situation(), signed_record()).record
    assert failing is not None
    failed = workflow.attempt_failed(dataclasses.replace(failing, series_failures=2), 1,
                                     "failed", "no", situation()).record
    assert failed is not None and failed.state == "failed"
    return failed


def test_a_replacement_out_of_retries_gives_back_its_coins_and_its_count() -> None:
    failing = workflow.requested(None, replacement(), CLIENT, situation(), signed_record()).record
    assert failing is not None

    step = workflow.attempt_failed(dataclasses.replace(failing, series_failures=2), 1,
                                   "failed", "no", situation(now=NOW + 30))

    assert step.record is not None and step.record.state == "failed"
    assert counted(step.effects) == [CountOutflow(NOW, -failing.payout_sat)]
    assert persisted(step).extra == (Release("po-2"),)


def test_a_retried_replacement_is_held_to_the_whole_window() -> None:
    failed = failed_replacement()
    later = NOW + 7_200
    window = full_window()  # 90,000 of 100,000 sat, counted at NOW: still in the window
    asked: list[tuple[float, int]] = []

    step = workflow.retry(failed, "po-2", CLIENT, with_outflow(window, later, asked))

    # Its whole payout, though it pays less than its original: that may be settled by now.
    assert asked == [(later, failed.payout_sat)]
    assert step.record == failed
    kind, reason = refusal(step, "po-2")
    assert kind == "outflow" and reason.startswith(f"paying {failed.payout_sat:,} sat more")


def test_a_retried_replacement_reclaims_its_token_and_counts_its_payout_anew() -> None:
    failed = failed_replacement()
    later = NOW + 7_200

    step = workflow.retry(failed, "po-2", CLIENT, situation(now=later))

    assert step.record is not None and step.record.series_started_at == later
    assert counted(step.effects) == [CountOutflow(later, failed.payout_sat)]
    coins = outpoints(workflow.parse_record(failed))
    assert persisted(step).extra == (
        Claim("po-2", (*coins, REPLACEMENT_OF + "po-1"), shares_with="po-1", at=later),)


def test_a_retry_whose_coin_is_held_now_is_dropped_uncounted_and_refused_naming_the_holder(
) -> None:
    retried_at = NOW + 7_200
    again = workflow.retry(failed_record(), "po-1", CLIENT, situation(now=retried_at)).record
    assert again is not None

    step = workflow.reclaim_refused(again, Held("ab" * 32 + ":0", "po-7"), CLIENT,
                                    situation(now=retried_at + 120))

    reason = f"coin {'ab' * 32}:0 is reserved by peg-out 'po-7' now"
    assert step.record is None
    # Taken back where the retry counted it, whenever the refusal comes.
    assert step.effects == (Drop(again), CountOutflow(retried_at, -again.payout_sat),
                            Note(Event.REJECTED, "po-1", kind="coin_reserved", detail=reason),
                            Reply(CLIENT, PegoutRejected("po-1", reason)))


def test_a_retried_replacement_whose_original_is_being_replaced_now_is_dropped_uncounted(
) -> None:
    retried_at = NOW + 7_200
    again = workflow.retry(failed_replacement(), "po-2", CLIENT, situation(now=retried_at)).record
    assert again is not None

    step = workflow.reclaim_refused(again, Held(REPLACEMENT_OF + "po-1", "po-3"), CLIENT,
                                    situation(now=retried_at + 120))

    reason = "peg-out 'po-1' is being replaced by 'po-3' now"
    assert step.record is None
    assert step.effects == (Drop(again), CountOutflow(retried_at, -again.payout_sat),
                            Note(Event.REJECTED, "po-2", kind="coin_reserved", detail=reason),
                            Reply(CLIENT, PegoutRejected("po-2", reason)))


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


def test_a_refused_retry_takes_back_exactly_what_the_retry_counted() -> None:
    record = failed_record()
    retried = workflow.retry(record, "po-1", CLIENT, situation(now=NOW + 7_200))
    assert retried.record is not None
    refused = workflow.reclaim_refused(retried.record, Held("ab" * 32 + ":0", "po-7"), CLIENT,
                                       situation(now=NOW + 7_320))

    window = replay(OutflowWindow(DAY_S, BTC), retried, refused)

    # The refusal comes two minutes on, in another minute: it takes back from the retry's.
    assert counted(refused.effects) == [CountOutflow(NOW + 7_200, -record.payout_sat)]
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

    payout = accepted.record.payout_sat
    assert counted(first.effects) == [CountOutflow(NOW, -payout)]
    assert counted(retried.effects) == [CountOutflow(NOW + 7_200, payout)]
    assert counted(second.effects) == [CountOutflow(NOW + 7_200, -payout)]  # where it counted
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


def test_a_replacement_of_a_replacement_must_spend_all_of_its_coins() -> None:
    # O spends {a}; R1 replaces O with {a, b}; R2 sharing only b with R1 would not
    # conflict with O, so both could confirm. Spending every coin of R1 keeps the chain
    # in conflict.
    a, b, c = coin(1), coin(2), coin(3)
    out = [(99_000, PAYEE)]
    r1 = dataclasses.replace(broadcast(), request_id="r1", replaces="po-1",
                             tx_hex=tx_hex(out, [a, b]), input_indices=(0, 1),
                             amounts=(50_000, 50_000))
    partial = InitiatePegout("r2", tx_hex(out, [b, c]), (0, 1), (50_000, 50_000),
                             replaces="r1")
    step = workflow.requested(None, partial, CLIENT, situation(), r1)
    kind, reason = refusal(step, "r2")
    assert kind == "replacement" and "must spend all of its coins" in reason
    whole = InitiatePegout("r2", tx_hex(out, [a, b, c]), (0, 1, 2),
                           (50_000, 50_000, 50_000), replaces="r1")
    assert workflow.requested(None, whole, CLIENT, situation(), r1).record is not None
