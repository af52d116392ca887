"""Which federation a peg-out is signed under (convention 10), decided by the pure workflow:
the version in force by default, an earlier applied one when named, never an unknown or
retired one; and the P2TR federation's own threshold, sighash and Schnorr witnesses."""

from __future__ import annotations

import dataclasses

import pytest

from actors.bridge import workflow
from actors.bridge.effects import Persist, Reply
from actors.bridge.workflow import Rules, Situation
from actors.messages import ApplySignatures, InitiatePegout, PegoutRejected, Witness
from actors.storage.records import PegoutRecord
from btc.federation import P2TR, Federation
from btc.pegout import parse_pegout, sighashes, taproot_sighashes
from btc.testing import make_unsigned_pegout
from tests.support.kernel import kernel_verify_all
from tests.unit.btc import members, private_key, public_key, sign_digest

RULES = Rules(max_pegout_sat=10**8, signature_retries=2)
OLD = Federation(version=1, members=members(3), threshold=2)  # P2WSH, 2-of-3
NEW = Federation(version=2, members=members(5), threshold=3, script_type=P2TR)  # 3-of-5
NOW = 1_000.0


def situation(earlier: dict[int, Federation] | None = None) -> Situation:
    return Situation(NEW, RULES, NOW, earlier={1: OLD} if earlier is None else earlier)


def request(fed: Federation, version: int | None = None, rid: str = "po-1") -> InitiatePegout:
    tx_hex, indices, amounts = make_unsigned_pegout(fed.witness_script, seed=7)
    return InitiatePegout(rid, tx_hex, indices, amounts, federation_version=version)


def accept(message: InitiatePegout, where: Situation) -> PegoutRecord:
    step = workflow.requested(None, message, "client", where)
    assert step.record is not None, step.effects
    return step.record


def refusal(message: InitiatePegout, where: Situation) -> str:
    step = workflow.requested(None, message, "client", where)
    [reply] = [e.message for e in step.effects if isinstance(e, Reply)]
    assert isinstance(reply, PegoutRejected)
    return reply.reason


def schnorr_answer(record: PegoutRecord, signers: tuple[int, ...] = (0, 1, 2)) -> ApplySignatures:
    unsigned = parse_pegout(record.tx_hex, record.input_indices, record.amounts,
                            max_pegout_sat=10**8)
    output = NEW.taproot
    digests = taproot_sighashes(unsigned, output.script_pubkey, output.leaf_script, 0)
    witnesses = tuple(Witness(private_key(s).sign_schnorr(d), public_key(s), "schnorr")
                      for d in digests for s in signers)
    return ApplySignatures(f"{record.request_id}/1", "complete", witnesses)


def ecdsa_answer(record: PegoutRecord) -> ApplySignatures:
    """Members 0 and 1 of the P2WSH version 1 sign every input."""
    unsigned = parse_pegout(record.tx_hex, record.input_indices, record.amounts,
                            max_pegout_sat=10**8)
    witnesses = tuple(Witness(sign_digest(s, d) + b"\x01", public_key(s), "ecdsa")
                      for d in sighashes(unsigned, OLD.witness_script) for s in (0, 1))
    return ApplySignatures(f"{record.request_id}/1", "complete", witnesses)


def test_an_old_client_without_the_field_spends_the_federation_in_force() -> None:
    record = accept(request(NEW), situation())
    assert record.federation_version == NEW.version  # resolved and stored
    asked = workflow.signature_request(record, situation())
    assert asked is not None and asked.required_signatures == NEW.threshold


def test_a_pegout_without_a_version_keeps_the_one_in_force_at_acceptance_after_a_switch() -> None:
    # Accepted while the P2WSH version 1 is in force, naming no version: its coins sit at
    # version 1's address. The P2TR version 2 comes before it is signed.
    before = Situation(OLD, RULES, NOW)
    record = accept(request(OLD), before)
    assert record.federation_version == OLD.version
    after = situation()
    asked = workflow.signature_request(record, after)
    assert asked is not None and asked.required_signatures == OLD.threshold
    step = workflow.answered(record, False, ecdsa_answer(record), 1, "stream", after)
    assert step.record is not None and step.record.state == "signed", step.effects


def test_a_p2tr_pegout_is_signed_with_schnorr_and_core_accepts_it() -> None:
    record = accept(request(NEW), situation())
    assert record.signatures_required == 2 * NEW.threshold
    step = workflow.answered(record, False, schnorr_answer(record), 1, "stream", situation())
    assert step.record is not None and step.record.state == "signed", step.effects
    assert step.record.signed_tx_hex is not None
    kernel_verify_all(step.record.signed_tx_hex,
                      [(NEW.script_pubkey, amount) for amount in record.amounts])


def test_a_pegout_naming_an_earlier_version_is_checked_and_asked_under_it() -> None:
    record = accept(request(OLD, version=1), situation())
    assert record.federation_version == 1
    assert record.signatures_required == 2 * OLD.threshold
    asked = workflow.signature_request(record, situation())
    assert asked is not None and asked.required_signatures == OLD.threshold


@pytest.mark.parametrize(("version", "reason"), [
    (3, "federation version 3 is unknown: version 2 is in force"),
    (0, "federation version 0 is retired or was never in force: peg-outs may spend coins "
        "of versions 1, 2"),
])
def test_an_unknown_or_retired_version_is_refused_naming_it(version: int, reason: str) -> None:
    assert refusal(request(NEW, version=version), situation()) == reason


def test_a_version_retired_after_acceptance_fails_the_pegout_naming_why() -> None:
    record = accept(request(OLD, version=1), situation())
    retired = situation(earlier={})
    assert workflow.signature_request(record, retired) is None
    answered = workflow.answered(record, False, ApplySignatures("po-1/1", "complete", ()), 1,
                                 "stream", retired)
    expired = workflow.expired(record, 1, retired)
    for step in (answered, expired):
        assert step.record is not None and step.record.state == "failed"
        assert (step.record.error or "").startswith(
            "cannot be signed: federation version 1 is retired")
        [persist] = [e for e in step.effects if isinstance(e, Persist)]
        assert [type(x).__name__ for x in persist.extra] == ["Release"]


def test_a_pegout_with_an_uncovered_input_is_refused_before_any_sighash() -> None:
    message = request(NEW)
    uncovered = dataclasses.replace(message, input_indices=message.input_indices[:1],
                                    amounts=message.amounts[:1])
    assert "input 1 is not in input_indices" in refusal(uncovered, situation())


def test_the_record_persists_the_version_it_names() -> None:
    step = workflow.requested(None, request(OLD, version=1), "client", situation())
    [persist] = [e for e in step.effects if isinstance(e, Persist)]
    assert persist.record is not None and persist.record.federation_version == 1


def test_a_repeat_naming_another_version_is_refused_not_accepted_again() -> None:
    record = accept(request(OLD, version=1), situation())
    again = workflow.requested(record, request(OLD, version=1), "client", situation())
    unnamed = workflow.requested(record, request(OLD), "client", situation())
    for step in (again, unnamed):  # the same peg-out: accepted again once durable
        [persist] = [e for e in step.effects if isinstance(e, Persist)]
        assert persist.record is None and not any(isinstance(e, Reply) for e in step.effects)
    other = workflow.requested(record, request(OLD, version=2), "client", situation())
    [reply] = [e.message for e in other.effects if isinstance(e, Reply)]
    assert isinstance(reply, PegoutRejected) and reply.kind == "duplicate"


def test_a_failed_pegout_whose_version_is_retired_is_not_retried() -> None:
    record = accept(request(OLD, version=1), situation())
    failed = workflow.expired(record, 1, situation(earlier={})).record
    assert failed is not None and failed.state == "failed"
    step = workflow.retry(failed, "po-1", "client", situation(earlier={}))
    [reply] = [e.message for e in step.effects if isinstance(e, Reply)]
    assert isinstance(reply, PegoutRejected) and reply.kind == "federation_version"
    assert reply.reason.startswith("federation version 1 is retired")
    assert not any(isinstance(e, Persist) for e in step.effects)


def signed_under_old() -> PegoutRecord:
    """`po-1`, accepted and signed under the P2WSH version 1 before the switch to 2."""
    before = Situation(OLD, RULES, NOW)
    record = accept(request(OLD), before)
    step = workflow.answered(record, False, ecdsa_answer(record), 1, "stream", before)
    assert step.record is not None and step.record.state == "signed", step.effects
    return step.record


def replacement_of(original: PegoutRecord, version: int | None) -> InitiatePegout:
    # The same coins (version 1's, seed 7) at a higher fee.
    tx_hex, indices, amounts = make_unsigned_pegout(OLD.witness_script, seed=7,
                                                    fee_rate_sat_vb=20.0)
    return InitiatePegout("po-2", tx_hex, indices, amounts, replaces=original.request_id,
                          federation_version=version)


def test_a_replacement_after_a_switch_is_signed_under_its_originals_version() -> None:
    # Its inputs are the original's coins at version 1's address: signed under version 2's
    # leaf script and members, no signature could ever spend them.
    original = signed_under_old()
    step = workflow.requested(None, replacement_of(original, None), "client", situation(),
                              original)
    assert step.record is not None, step.effects
    assert step.record.federation_version == OLD.version
    assert step.record.signatures_required == 2 * OLD.threshold
    asked = workflow.signature_request(step.record, situation())
    assert asked is not None and asked.required_signatures == OLD.threshold


def test_a_replacement_naming_another_version_than_its_original_is_refused() -> None:
    original = signed_under_old()
    step = workflow.requested(None, replacement_of(original, NEW.version), "client",
                              situation(), original)
    [reply] = [e.message for e in step.effects if isinstance(e, Reply)]
    assert isinstance(reply, PegoutRejected) and reply.kind == "replacement"
    assert reply.reason == ("peg-out 'po-1' spends coins of federation version 1, and its "
                            "replacement names version 2")
