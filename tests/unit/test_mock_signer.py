"""The mock governance signer, as plain functions: keys, script, signatures, faults, updates.

The mock signs with coincurve and python-bitcoinlib; every check here is made
with embit, the node's library, so each implementation checks the other.
No gRPC server and no grpc import: only the mock's pure parts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest
from embit import ec
from embit.networks import NETWORKS
from embit.script import Script, multisig, p2wsh
from embit.transaction import SIGHASH, Transaction

from btc import seeded
from mock_governance import behaviour, federation
from mock_governance.errors import InvalidBehaviourValue, InvalidRequestBody, UnknownBehaviour
from mock_governance.federation import (
    NON_MEMBER_INDEX,
    derive_member,
    federation_keys,
    governance_public_key,
    governance_secret,
    member_secret,
    signing_federation,
)
from mock_governance.flags import FlagBoard, SignatureFault
from mock_governance.flags import SignatureFaultKind as Fault
from mock_governance.holds import HeldAnswers
from mock_governance.multisig import p2wsh_address, witness_script
from mock_governance.sessions import StreamSession
from mock_governance.signer import sign_request
from mock_governance.state import MockState
from mock_governance.updates import BuiltUpdate, UpdateSpec, build_federation_update
from protocol import governance_pb2 as pb
from tests.support.mock import unsigned_tx_hex

SEED = "unit-seed"
EMBIT_NETWORK = {"regtest": "regtest", "testnet": "test", "signet": "signet", "mainnet": "main"}


def embit_public_key(secret: bytes) -> bytes:
    return ec.PrivateKey(secret).get_public_key().sec()


def verifies(public_key: bytes, der: bytes, digest: bytes) -> bool:
    return bool(ec.PublicKey.parse(public_key).verify(ec.Signature.parse(der), digest))


def embit_sighashes(
    tx_hex: str, script: bytes, inputs: Sequence[int], amounts: Sequence[int]
) -> list[bytes]:
    tx = Transaction.parse(bytes.fromhex(tx_hex))
    return [
        tx.sighash_segwit(index, Script(script), amount, SIGHASH.ALL)
        for index, amount in zip(inputs, amounts, strict=True)
    ]


def request(
    tx_hex: str,
    inputs: Sequence[int] = (0, 1),
    amounts: Sequence[int] = (50_000, 70_000),
    required: int = 3,
) -> pb.SignatureRequest:
    return pb.SignatureRequest(
        tx_hex=tx_hex,
        input_indices=list(inputs),
        amounts=list(amounts),
        tx_type=pb.TRANSACTION_TYPE_PEGOUT,
        required_signatures=required,
    )


def groups(response: pb.SignatureResponse, per_input: int) -> list[list[pb.WitnessData]]:
    signatures = list(response.signatures)
    return [signatures[i : i + per_input] for i in range(0, len(signatures), per_input)]


@pytest.fixture(scope="module")
def fed() -> federation.SigningFederation:
    return signing_federation(SEED, range(5), 3)


# ------------------------------------------------------------------ keys


def test_member_keys_derive_from_the_seed_and_index_and_are_valid_for_embit() -> None:
    secret = member_secret(SEED, 2)

    assert secret == hashlib.sha256(f"{SEED}/2".encode()).digest()
    assert derive_member(SEED, 2).public_key == embit_public_key(secret)
    assert member_secret(SEED, 2) == secret
    assert member_secret("other", 2) != secret


def test_federation_keys_are_the_first_members_public_keys_sorted() -> None:
    keys = federation_keys(SEED, 5)

    assert list(keys) == sorted(embit_public_key(member_secret(SEED, i)) for i in range(5))
    assert len(set(keys)) == 5
    assert all(len(key) == 33 and key[0] in (2, 3) for key in keys)
    assert federation_keys(SEED, 0) == ()
    with pytest.raises(ValueError):
        federation_keys(SEED, -1)


def test_a_digest_outside_the_curve_order_is_hashed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With the bound lowered to 2^255, any digest with its top bit set must be re-hashed.
    monkeypatch.setattr(seeded, "SECP256K1_ORDER", 2**255)
    label = next(
        f"s/{i}" for i in range(100) if hashlib.sha256(f"s/{i}".encode()).digest()[0] >= 128
    )
    expected = hashlib.sha256(label.encode()).digest()
    while expected[0] >= 128:
        expected = hashlib.sha256(expected).digest()

    assert member_secret("s", int(label.split("/")[1])) == expected


def test_governance_has_its_own_key_from_the_seed() -> None:
    secret = governance_secret(SEED)

    assert secret == hashlib.sha256(f"{SEED}/governance".encode()).digest()
    assert governance_public_key(SEED) == embit_public_key(secret)
    assert governance_public_key(SEED) not in federation_keys(SEED, 16)


# ------------------------------------------------------------------ script and address


@pytest.mark.parametrize("network", ["regtest", "testnet", "signet", "mainnet"])
def test_witness_script_and_address_match_embits_sorted_multisig(network: str) -> None:
    keys = federation_keys(SEED, 5)
    script = witness_script(reversed(keys), 3)  # the order given does not matter

    expected = multisig(3, [ec.PublicKey.parse(k) for k in keys])
    assert script == expected.data
    assert script[0] == 0x53 and script[-2:] == bytes([0x55, 0xAE])  # OP_3 .. OP_5 CHECKMULTISIG
    assert p2wsh_address(script, network) == p2wsh(expected).address(
        NETWORKS[EMBIT_NETWORK[network]]
    )


def test_regtest_is_the_default_network_and_unknown_ones_are_refused() -> None:
    script = witness_script(federation_keys(SEED, 2), 2)

    assert p2wsh_address(script).startswith("bcrt1q")
    with pytest.raises(ValueError, match="unknown network"):
        p2wsh_address(script, "moon")


@pytest.mark.parametrize(("count", "threshold"), [(3, 0), (3, 4), (17, 2), (0, 1)], ids=str)
def test_impossible_multisigs_are_refused(count: int, threshold: int) -> None:
    with pytest.raises(ValueError):
        witness_script([derive_member(SEED, i).public_key for i in range(count)], threshold)
    with pytest.raises(ValueError):
        signing_federation(SEED, range(count), threshold)


def test_the_signing_federation_sorts_members_and_signs_with_the_first_threshold(
    fed: federation.SigningFederation,
) -> None:
    assert fed.public_keys == federation_keys(SEED, 5)
    assert [m.public_key for m in fed.signers] == list(fed.public_keys[:3])
    assert fed.indices == (0, 1, 2, 3, 4)
    assert fed.witness_script == witness_script(fed.public_keys, 3)
    assert fed.outsider.index == NON_MEMBER_INDEX
    assert fed.outsider.public_key not in fed.public_keys
    assert signing_federation(SEED, [NON_MEMBER_INDEX], 1).outsider.index == NON_MEMBER_INDEX + 1
    with pytest.raises(ValueError, match="distinct"):
        signing_federation(SEED, [1, 1], 1)


# ------------------------------------------------------------------ signatures


@pytest.mark.parametrize(
    ("indices", "threshold", "inputs"),
    [(range(5), 3, (0, 1)), ([7], 1, (2,)), ([0, 1, 2, 3, 4, 5], 4, (3, 0, 2))],
    ids=["3-of-5", "1-of-1", "4-of-6"],
)
def test_a_complete_answer_verifies_with_embit_input_by_input_in_sorted_key_order(
    indices: Sequence[int], threshold: int, inputs: tuple[int, ...]
) -> None:
    signer = signing_federation(SEED, indices, threshold)
    tx_hex = unsigned_tx_hex(4)
    amounts = tuple(10_000 * (i + 1) for i in range(len(inputs)))

    answer = sign_request(signer, request(tx_hex, inputs, amounts, threshold))

    assert answer.status == pb.SIGNATURE_STATUS_COMPLETE, answer.failure_reason
    digests = embit_sighashes(tx_hex, signer.witness_script, inputs, amounts)
    per_input = groups(answer, threshold)
    assert len(per_input) == len(inputs)
    for digest, witnesses in zip(digests, per_input, strict=True):
        assert [w.public_key for w in witnesses] == list(signer.public_keys[:threshold])
        for w in witnesses:
            assert w.sig_type == pb.SIGNATURE_TYPE_ECDSA
            assert w.signature[-1] == SIGHASH.ALL
            assert verifies(w.public_key, w.signature[:-1], digest)


def test_signing_is_deterministic_so_a_resent_request_gets_the_same_bytes(
    fed: federation.SigningFederation,
) -> None:
    sig_request = request(unsigned_tx_hex(2))

    assert sign_request(fed, sig_request) == sign_request(fed, sig_request)
    other = sign_request(fed, request(unsigned_tx_hex(2, salt=1)))
    assert other.signatures[0].signature != sign_request(fed, sig_request).signatures[0].signature


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"required_signatures": 2},
            "required_signatures is 2, but the mock federation signs 3-of-5",
        ),
        ({"tx_hex": "zz"}, "tx_hex is not hexadecimal"),
        ({"tx_hex": "0200ab"}, "tx_hex is not a transaction"),
        ({"input_indices": []}, "input_indices is empty"),
        ({"amounts": [1]}, "2 input index(es) but 1 amount(s)"),
        ({"input_indices": [1, 1]}, "repeat an input"),
        ({"input_indices": [0, 2]}, "out of range: the tx has 2 input(s)"),
        ({"amounts": [1, 2_100_000_000_000_001]}, "an amount exceeds"),
    ],
)
def test_an_unsignable_request_fails_with_a_reason(
    fed: federation.SigningFederation, change: dict[str, object], reason: str
) -> None:
    sig_request = request(unsigned_tx_hex(2))
    for field, value in change.items():
        if isinstance(value, list):
            getattr(sig_request, field)[:] = value
        else:
            setattr(sig_request, field, value)

    answer = sign_request(fed, sig_request)

    assert answer.status == pb.SIGNATURE_STATUS_FAILED
    assert reason in answer.failure_reason
    assert list(answer.signatures) == []


# ------------------------------------------------------------------ faults


def test_too_few_gives_threshold_minus_one_good_signatures_per_input(
    fed: federation.SigningFederation,
) -> None:
    tx_hex = unsigned_tx_hex(2)

    answer = sign_request(fed, request(tx_hex), Fault.TOO_FEW)

    assert answer.status == pb.SIGNATURE_STATUS_COMPLETE
    digests = embit_sighashes(tx_hex, fed.witness_script, (0, 1), (50_000, 70_000))
    for digest, witnesses in zip(digests, groups(answer, 2), strict=True):
        assert [w.public_key for w in witnesses] == list(fed.public_keys[:2])
        assert all(verifies(w.public_key, w.signature[:-1], digest) for w in witnesses)


def test_wrong_signature_is_well_formed_but_over_another_digest(
    fed: federation.SigningFederation,
) -> None:
    tx_hex = unsigned_tx_hex(2)
    good = sign_request(fed, request(tx_hex))

    answer = sign_request(fed, request(tx_hex), Fault.WRONG_SIGNATURE)

    digests = embit_sighashes(tx_hex, fed.witness_script, (0, 1), (50_000, 70_000))
    first = answer.signatures[0]
    assert answer.status == pb.SIGNATURE_STATUS_COMPLETE
    assert first.public_key == fed.public_keys[0]
    ec.Signature.parse(first.signature[:-1])  # valid DER
    assert not verifies(first.public_key, first.signature[:-1], digests[0])
    assert list(answer.signatures)[1:] == list(good.signatures)[1:]


def test_non_member_signs_once_with_a_key_outside_the_federation(
    fed: federation.SigningFederation,
) -> None:
    tx_hex = unsigned_tx_hex(2)

    answer = sign_request(fed, request(tx_hex), Fault.NON_MEMBER)

    digests = embit_sighashes(tx_hex, fed.witness_script, (0, 1), (50_000, 70_000))
    keys = [w.public_key for w in answer.signatures]
    strangers = [k for k in keys if k not in fed.public_keys]
    assert strangers == [derive_member(SEED, NON_MEMBER_INDEX).public_key]
    assert keys.index(strangers[0]) == 2  # the last signature of the first input
    for digest, witnesses in zip(digests, groups(answer, 3), strict=True):
        assert all(verifies(w.public_key, w.signature[:-1], digest) for w in witnesses)


def test_partial_gives_the_first_inputs_signatures_only(
    fed: federation.SigningFederation,
) -> None:
    tx_hex = unsigned_tx_hex(2)

    answer = sign_request(fed, request(tx_hex, inputs=(1, 0)), Fault.PARTIAL)

    assert answer.status == pb.SIGNATURE_STATUS_PARTIAL
    (digest,) = embit_sighashes(tx_hex, fed.witness_script, (1,), (50_000,))
    assert [w.public_key for w in answer.signatures] == list(fed.public_keys[:3])
    assert all(verifies(w.public_key, w.signature[:-1], digest) for w in answer.signatures)


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.FAILED, pb.SIGNATURE_STATUS_FAILED), (Fault.TIMEOUT, pb.SIGNATURE_STATUS_TIMEOUT)],
)
def test_failed_and_timeout_answer_with_that_status_and_no_signatures(
    fed: federation.SigningFederation, fault: Fault, status: int
) -> None:
    answer = sign_request(fed, request(unsigned_tx_hex(2)), fault)

    assert answer.status == status
    assert answer.failure_reason
    assert list(answer.signatures) == []


def test_a_counted_fault_is_used_up_and_an_uncounted_one_stays() -> None:
    board = FlagBoard()
    board.set(signature_fault=SignatureFault(Fault.PARTIAL, 2))

    counted = [board.take_signature_fault() for _ in range(3)]
    board.set(signature_fault=SignatureFault(Fault.TIMEOUT, None))
    uncounted = [board.take_signature_fault() for _ in range(3)]

    assert counted == [Fault.PARTIAL, Fault.PARTIAL, None]
    assert board.current.signature_fault == SignatureFault(Fault.TIMEOUT, None)
    assert uncounted == [Fault.TIMEOUT] * 3


@pytest.mark.parametrize(
    ("settings", "planned"),
    [
        ({"signature_fault": "too_few"}, SignatureFault(Fault.TOO_FEW, 1)),
        (
            {"signature_fault": "partial", "signature_fault_count": 4},
            SignatureFault(Fault.PARTIAL, 4),
        ),
        (
            {"signature_fault": "failed", "signature_fault_count": None},
            SignatureFault(Fault.FAILED, None),
        ),
        (
            {"signature_fault": "timeout", "signature_fault_count": -1},
            SignatureFault(Fault.TIMEOUT, None),
        ),
        ({"signature_fault": None}, None),
    ],
)
def test_signature_fault_behaviour_plans_a_fault(
    settings: dict[str, object], planned: SignatureFault | None
) -> None:
    state = MockState(SEED, max_streams=1)

    applied = behaviour.apply_behaviours(state, settings)

    assert state.flags.current.signature_fault == planned
    assert applied == {
        "signature_fault": None
        if planned is None
        else {"kind": planned.kind, "count": planned.count}
    }


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"signature_fault_count": 2}, InvalidRequestBody),
        ({"signature_fault": "sloppy"}, InvalidBehaviourValue),
        ({"signature_fault": ["too_few"]}, InvalidBehaviourValue),
        ({"signature_fault": "too_few", "signature_fault_count": 0}, InvalidBehaviourValue),
        ({"signature_fault": "too_few", "signature_fault_count": True}, InvalidBehaviourValue),
        ({"signature_fault": "too_few", "signature_fault_cnt": 2}, UnknownBehaviour),
        ({"hold_signatures": 1}, InvalidBehaviourValue),
    ],
)
def test_bad_signature_fault_settings_are_refused_and_change_nothing(
    settings: dict[str, object], error: type[Exception]
) -> None:
    state = MockState(SEED, max_streams=1)

    with pytest.raises(error):
        behaviour.apply_behaviours(state, settings)
    assert state.flags.current.signature_fault is None
    assert not state.flags.current.hold_signatures


# ------------------------------------------------------------------ holding answers


def signature_stream_request(request_id: str, node_id: str) -> pb.StreamRequest:
    return pb.StreamRequest(
        metadata=pb.RequestMetadata(request_id=request_id, node_id=node_id),
        signature_request=request(unsigned_tx_hex(2)),
    )


def queued(session: StreamSession) -> list[Any]:
    """What the session's writer would send next, taken off its queue."""
    items = []
    while not session._outbound.empty():
        items.append(session.next_outbound())
    return items


def test_held_answers_wait_for_release_and_go_out_on_their_own_stream() -> None:
    state = MockState(SEED, max_streams=2)
    state.flags.set(hold_signatures=True)
    first, second = StreamSession(1, "peer-1", 0.0), StreamSession(2, "peer-2", 0.0)

    state.receive(first, signature_stream_request("sig-1", "node-a"))
    state.receive(first, signature_stream_request("sig-2", "node-a"))
    state.receive(second, signature_stream_request("sig-3", "node-b"))
    held = state.held.to_json()
    nothing_sent = queued(first) + queued(second)
    one = state.held.release(count=1)
    node_b = state.held.release(node_id="node-b")

    assert held == {"held": {"node-a": 2, "node-b": 1}, "dropped": 0}
    assert nothing_sent == []
    assert (one.sent, one.dropped, node_b.sent) == (1, 0, 1)
    assert [r.metadata.request_id for r in queued(first)] == ["sig-1"]
    (answer,) = queued(second)
    assert answer.metadata.request_id == "sig-3"
    assert answer.signature_response.status == pb.SIGNATURE_STATUS_COMPLETE
    assert state.held.to_json() == {"held": {"node-a": 1}, "dropped": 0}


def test_an_answer_held_for_a_stream_that_ended_is_dropped_and_counted() -> None:
    held = HeldAnswers()
    gone, alive = StreamSession(1, "p", 0.0), StreamSession(2, "p", 0.0)
    gone.identify("node-a")
    alive.identify("node-a")
    response = pb.StreamResponse(metadata=pb.ResponseMetadata(request_id="x"))
    held.hold(gone, [response])
    held.hold(alive, [response, response])
    gone.mark_closed()
    queued(gone)

    released = held.release()

    assert (released.sent, released.dropped) == (2, 1)
    assert queued(gone) == []
    assert len(queued(alive)) == 2
    assert held.to_json() == {"held": {}, "dropped": 1}


# ------------------------------------------------------------------ federation updates


def spec(**changes: object) -> UpdateSpec:
    fields: dict[str, object] = {
        "version": 7,
        "indices": (0, 1, 2, 3),
        "threshold": 3,
        "request_id": "fed-7",
    }
    fields.update(changes)
    return UpdateSpec(**fields)  # type: ignore[arg-type]


def build(**changes: object) -> BuiltUpdate:
    return build_federation_update(SEED, spec(**changes), federation.governance_key(SEED), 1_700)


def unsigned_digest(update: pb.FederationUpdate) -> bytes:
    copy = pb.FederationUpdate()
    copy.CopyFrom(update)
    copy.update_signature = b""
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def test_a_signed_update_verifies_with_embit_against_governances_key() -> None:
    built = build(effective_height=250, update_type="config_change")

    response = built.response
    update = response.federation_update
    assert response.metadata.request_id == "fed-7"
    assert response.metadata.status == pb.STATUS_CODE_SUCCESS
    assert built.digest == unsigned_digest(update)
    assert verifies(governance_public_key(SEED), update.update_signature, built.digest)
    assert update.update_type == pb.FEDERATION_UPDATE_TYPE_CONFIG_CHANGE
    assert update.effective_height == 250
    assert [m.member_id for m in update.members] == ["m0", "m1", "m2", "m3"]
    assert [m.public_key for m in update.members] == [
        derive_member(SEED, i).public_key for i in range(4)
    ]
    assert update.config.signature_threshold == 3
    assert update.config.parameters["version"] == "7"


def test_the_updates_address_is_the_active_members_multisig() -> None:
    built = build(indices=(4, 0, 1, 2), active=(True, True, False, True))

    update = built.response.federation_update
    active_keys = sorted(derive_member(SEED, i).public_key for i in (4, 0, 2))
    expected = p2wsh(multisig(3, [ec.PublicKey.parse(k) for k in active_keys]))
    assert update.config.parameters["p2wsh_address"] == expected.address(NETWORKS["regtest"])
    assert built.p2wsh_address == update.config.parameters["p2wsh_address"]
    assert [m.active for m in update.members] == [True, True, False, True]


def test_an_update_can_go_unsigned_badly_signed_or_with_another_address() -> None:
    unsigned = build(sign=False, with_address=False)
    bad = build(bad_signature=True)
    overridden = build(address_override="bcrt1qnotthisone")

    update = unsigned.response.federation_update
    assert update.update_signature == b""
    assert "p2wsh_address" not in update.config.parameters
    bad_update = bad.response.federation_update
    ec.Signature.parse(bad_update.update_signature)  # valid DER, no sighash byte
    assert not verifies(governance_public_key(SEED), bad_update.update_signature, bad.digest)
    params = overridden.response.federation_update.config.parameters
    assert params["p2wsh_address"] == "bcrt1qnotthisone"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"update_type": "merge"}, "unknown update_type"),
        ({"indices": ()}, "not empty"),
        ({"indices": (1, 1)}, "distinct"),
        ({"active": (True,)}, "'active' flags"),
        ({"threshold": 5}, "threshold"),
        ({"active": (True, False, False, False)}, "threshold"),
        ({"sign": False, "bad_signature": True}, "bad_signature needs sign"),
    ],
)
def test_an_impossible_update_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**changes)


def test_an_update_without_an_address_may_carry_any_threshold() -> None:
    built = build(threshold=9, with_address=False)

    assert built.response.federation_update.config.signature_threshold == 9
