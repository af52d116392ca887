"""The mock's P2TR federation and Schnorr signing, checked by the node's code and by Bitcoin
Core's consensus engine; its faults give the node the refusal each one should."""

from __future__ import annotations

import pytest

from actors.messages import Member
from btc.errors import SignaturesInvalid
from btc.federation import P2TR, Federation
from btc.pegout import parse_pegout
from btc.signing import assemble
from btc.testing import make_unsigned_pegout
from mock_governance.federation import SigningFederation, signing_federation
from mock_governance.flags import SignatureFaultKind as Fault
from mock_governance.signer import sign_request
from mock_governance.updates import UpdateSpec, build_federation_update
from protocol import governance_pb2 as pb
from tests.support.kernel import kernel_verify_all

SEED = "unit-taproot"
AMOUNTS = (60_000, 45_000)


@pytest.fixture(scope="module")
def mock_fed() -> SigningFederation:
    return signing_federation(SEED, range(5), 3, "p2tr")


def node_federation(mock_fed: SigningFederation) -> Federation[Member]:
    members = tuple(Member(f"m{i}", m.public_key) for i, m in enumerate(mock_fed.members))
    return Federation(1, members, mock_fed.threshold, script_type=P2TR)


def request(fed: Federation[Member]) -> tuple[pb.SignatureRequest, str]:
    tx_hex, indices, amounts = make_unsigned_pegout(fed.witness_script, amounts=AMOUNTS)
    return pb.SignatureRequest(tx_hex=tx_hex, input_indices=list(indices),
                               amounts=list(amounts), tx_type=pb.TRANSACTION_TYPE_PEGOUT,
                               required_signatures=fed.threshold), tx_hex


def witnesses(answer: pb.SignatureResponse) -> list[tuple[bytes, bytes, str]]:
    kinds = {pb.SIGNATURE_TYPE_ECDSA: "ecdsa", pb.SIGNATURE_TYPE_SCHNORR: "schnorr"}
    return [(w.signature, w.public_key, kinds[w.sig_type]) for w in answer.signatures]


def test_the_mocks_p2tr_output_is_the_nodes(mock_fed: SigningFederation) -> None:
    # embit's tr(NUMS, sortedmulti_a(...)) descriptor against the node's own leaf builder.
    fed = node_federation(mock_fed)
    assert mock_fed.witness_script == fed.witness_script
    assert mock_fed.script_pubkey == fed.script_pubkey
    assert mock_fed.address("signet") == fed.address("signet")


def test_a_complete_schnorr_answer_assembles_and_core_accepts_it(
        mock_fed: SigningFederation) -> None:
    fed = node_federation(mock_fed)
    message, tx_hex = request(fed)
    answer = sign_request(mock_fed, message)
    assert answer.status == pb.SIGNATURE_STATUS_COMPLETE
    assert {w.sig_type for w in answer.signatures} == {pb.SIGNATURE_TYPE_SCHNORR}
    assert all(len(w.signature) == 64 for w in answer.signatures)
    assert sign_request(mock_fed, message) == answer  # deterministic
    unsigned = parse_pegout(tx_hex, message.input_indices, message.amounts,
                            max_pegout_sat=10**8)
    signed = assemble(unsigned, fed, witnesses(answer))
    kernel_verify_all(signed.tx_hex, [(fed.script_pubkey, amount) for amount in AMOUNTS])


@pytest.mark.parametrize(("fault", "kind"), [
    (Fault.TOO_FEW, "count"),
    (Fault.WRONG_SIGNATURE, "bad_signature"),
    (Fault.NON_MEMBER, "non_member"),
])
def test_each_fault_gives_the_node_its_refusal(mock_fed: SigningFederation, fault: Fault,
                                               kind: str) -> None:
    fed = node_federation(mock_fed)
    message, tx_hex = request(fed)
    unsigned = parse_pegout(tx_hex, message.input_indices, message.amounts,
                            max_pegout_sat=10**8)
    with pytest.raises(SignaturesInvalid) as caught:
        assemble(unsigned, fed, witnesses(sign_request(mock_fed, message, fault)))
    assert caught.value.kind == kind


def test_a_request_that_leaves_an_input_out_is_refused_for_p2tr(
        mock_fed: SigningFederation) -> None:
    message, _ = request(node_federation(mock_fed))
    del message.input_indices[1:]
    del message.amounts[1:]
    answer = sign_request(mock_fed, message)
    assert answer.status == pb.SIGNATURE_STATUS_FAILED
    assert "a Taproot sighash commits to the amount of every input" in answer.failure_reason


def test_an_update_to_p2tr_sends_convention_10s_parameters(mock_fed: SigningFederation) -> None:
    from mock_governance.federation import governance_key

    spec = UpdateSpec(version=1, indices=(0, 1, 2, 3, 4), threshold=3, request_id="u",
                      script_type="p2tr")
    built = build_federation_update(SEED, spec, governance_key(SEED), 0)
    parameters = built.response.federation_update.config.parameters
    assert parameters["script_type"] == "p2tr"
    assert parameters["p2tr_address"] == mock_fed.address("regtest") == built.p2tr_address
    assert "p2wsh_address" not in parameters


def test_an_unknown_script_type_is_refused() -> None:
    with pytest.raises(ValueError, match="script_type must be one of p2wsh, p2tr"):
        signing_federation(SEED, range(3), 2, "p2sh")


def test_each_members_keypair_is_made_once_across_requests(
        mock_fed: SigningFederation, monkeypatch: pytest.MonkeyPatch) -> None:
    # A keypair costs a point multiplication: made per member, not per signature.
    import mock_governance.signer as signer

    made: list[bytes] = []
    create = signer.embit_secp256k1.keypair_create

    def counting(secret: bytes) -> bytes:
        made.append(secret)
        return create(secret)

    monkeypatch.setattr(signer.embit_secp256k1, "keypair_create", counting)
    signer._keypair.cache_clear()
    try:
        message, _ = request(node_federation(mock_fed))
        for _ in range(2):
            assert sign_request(mock_fed, message).status == pb.SIGNATURE_STATUS_COMPLETE
    finally:
        signer._keypair.cache_clear()
    assert sorted(made) == sorted(m.private_key.secret for m in mock_fed.signers)
