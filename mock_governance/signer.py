"""Answer a SignatureRequest with real signatures by the mock's federation (convention 4).

For each input, in the order of ``input_indices``, the first ``threshold``
members in sorted public-key order sign the BIP143 SIGHASH_ALL digest of
that input, with its amount and the federation's witness script as
scriptCode. A signature is DER ECDSA (libsecp256k1 through coincurve: low-S,
RFC6979 nonces, so a re-sent request gets the same bytes) followed by the
SIGHASH_ALL byte. The transaction and digests come from python-bitcoinlib,
not from the embit code the node verifies with.

A P2TR federation's members sign each input's BIP341 script-path digest
(SIGHASH_DEFAULT: every input spends a coin of the federation, with the
amounts of the request) with BIP340 Schnorr, 64 bytes and no sighash byte,
with fixed auxiliary randomness so that a re-sent request gets the same bytes.
python-bitcoinlib has no Taproot: the digests come from embit, the
signatures from the libsecp256k1 embit bundles (`schnorr_sign`).

A SignatureFaultKind makes the answer wrong in one named way, for tests of
the node's checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from bitcoin.core import CTransaction
from bitcoin.core.script import SIGHASH_ALL, SIGVERSION_WITNESS_V0, CScript, SignatureHash
from bitcoin.core.serialize import SerializationError
from embit.script import Script
from embit.transaction import SIGHASH, Transaction
from embit.util import secp256k1 as embit_secp256k1

from mock_governance.errors import UnsignableRequest
from mock_governance.federation import MemberKey, SigningFederation
from mock_governance.flags import SignatureFaultKind as Fault
from protocol import governance_pb2 as pb

MAX_MONEY_SAT = 21_000_000 * 100_000_000
_SIGHASH_BYTE = bytes([SIGHASH_ALL])
# BIP340's auxiliary randomness, fixed: a re-sent request gets the same signatures.
_NO_AUX_RANDOMNESS = bytes(32)


def failed(reason: str) -> pb.SignatureResponse:
    return pb.SignatureResponse(status=pb.SIGNATURE_STATUS_FAILED, failure_reason=reason)


def parse_request(federation: SigningFederation, request: pb.SignatureRequest) -> CTransaction:
    """The transaction to sign; UnsignableRequest naming the problem if the mock will not."""
    if request.required_signatures != federation.threshold:
        raise UnsignableRequest(
            f"required_signatures is {request.required_signatures}, but the mock federation "
            f"signs {federation.threshold}-of-{len(federation.members)}"
        )
    try:
        tx = CTransaction.deserialize(bytes.fromhex(request.tx_hex))
    except ValueError as error:
        raise UnsignableRequest("tx_hex is not hexadecimal") from error
    except SerializationError as error:
        raise UnsignableRequest(f"tx_hex is not a transaction: {error}") from error
    indices, amounts = list(request.input_indices), list(request.amounts)
    if not indices:
        raise UnsignableRequest("input_indices is empty")
    if len(amounts) != len(indices):
        raise UnsignableRequest(f"{len(indices)} input index(es) but {len(amounts)} amount(s)")
    if len(set(indices)) != len(indices):
        raise UnsignableRequest(f"input_indices repeat an input: {indices}")
    out_of_range = [index for index in indices if index >= len(tx.vin)]
    if out_of_range:
        raise UnsignableRequest(
            f"input index(es) {out_of_range} out of range: the tx has {len(tx.vin)} input(s)"
        )
    if any(amount > MAX_MONEY_SAT for amount in amounts):
        raise UnsignableRequest(f"an amount exceeds {MAX_MONEY_SAT} sat: {amounts}")
    if federation.is_taproot and len(indices) != len(tx.vin):
        raise UnsignableRequest(
            f"{len(indices)} of {len(tx.vin)} inputs in input_indices: a Taproot sighash "
            "commits to the amount of every input, and the request gives only those listed"
        )
    return tx


def input_digests(
    federation: SigningFederation, tx: CTransaction, request: pb.SignatureRequest
) -> list[bytes]:
    """BIP143 SIGHASH_ALL (P2WSH) or BIP341 SIGHASH_DEFAULT (P2TR) digest of each
    requested input, in request order."""
    if federation.is_taproot:
        return _taproot_digests(federation, tx, request)
    script_code = CScript(federation.witness_script)
    return [
        SignatureHash(
            script_code, tx, index, SIGHASH_ALL, amount=amount, sigversion=SIGVERSION_WITNESS_V0
        )
        for index, amount in zip(request.input_indices, request.amounts, strict=True)
    ]


def _taproot_digests(
    federation: SigningFederation, tx: CTransaction, request: pb.SignatureRequest
) -> list[bytes]:
    parsed = Transaction.parse(bytes.fromhex(request.tx_hex))
    amounts = dict(zip(request.input_indices, request.amounts, strict=True))
    values = [amounts[index] for index in range(len(parsed.vin))]
    spent = [Script(federation.script_pubkey)] * len(values)
    leaf = Script(federation.witness_script)
    return [
        parsed.sighash_taproot(index, spent, values, sighash=SIGHASH.DEFAULT, ext_flag=1,
                               script=leaf)
        for index in request.input_indices
    ]


@lru_cache(maxsize=1024)
def _keypair(secret: bytes) -> bytes:
    """libsecp256k1's keypair of a member's secret: a point multiplication, made once."""
    return embit_secp256k1.keypair_create(secret)


def schnorr_sign(secret: bytes, digest: bytes, aux_randomness: bytes = _NO_AUX_RANDOMNESS) -> bytes:
    """The BIP340 signature of `digest` by `secret`, by libsecp256k1's own signer.

    The same bytes as coincurve's `PrivateKey.sign_schnorr`, at a third of its cost: that
    one makes the keypair anew and verifies its own signature at every call, and a P2TR
    answer is a signature per member per input (the node verifies them all anyway)."""
    return embit_secp256k1.schnorrsig_sign(digest, _keypair(secret), None, aux_randomness)


def witness(signer: MemberKey, digest: bytes, schnorr: bool = False) -> pb.WitnessData:
    if schnorr:
        return pb.WitnessData(
            signature=schnorr_sign(signer.private_key.secret, digest),
            public_key=signer.public_key,
            sig_type=pb.SIGNATURE_TYPE_SCHNORR,
        )
    return pb.WitnessData(
        signature=signer.private_key.sign(digest, hasher=None) + _SIGHASH_BYTE,
        public_key=signer.public_key,
        sig_type=pb.SIGNATURE_TYPE_ECDSA,
    )


def sign_request(
    federation: SigningFederation, request: pb.SignatureRequest, fault: Fault | None = None
) -> pb.SignatureResponse:
    if fault is Fault.FAILED:
        return failed("the signers refused (injected by the mock's signature_fault)")
    if fault is Fault.TIMEOUT:
        return pb.SignatureResponse(
            status=pb.SIGNATURE_STATUS_TIMEOUT,
            failure_reason="the signers did not answer in time (injected by signature_fault)",
        )
    try:
        tx = parse_request(federation, request)
    except UnsignableRequest as error:
        return failed(str(error))
    digests = input_digests(federation, tx, request)
    schnorr = federation.is_taproot
    if fault is Fault.PARTIAL:
        return pb.SignatureResponse(
            status=pb.SIGNATURE_STATUS_PARTIAL,
            signatures=_sign(federation.signers, digests[:1], schnorr),
        )
    signers = federation.signers
    if fault is Fault.TOO_FEW:
        signers = signers[:-1]
    signatures = _sign(signers, digests, schnorr)
    if fault is Fault.WRONG_SIGNATURE:
        # The first signer's key and a well-formed signature, over a digest nobody asked for.
        signatures[0] = witness(signers[0], hashlib.sha256(digests[0]).digest(), schnorr)
    elif fault is Fault.NON_MEMBER:
        # The right digest, but the last signer of the first input is not a member.
        signatures[len(signers) - 1] = witness(federation.outsider, digests[0], schnorr)
    return pb.SignatureResponse(status=pb.SIGNATURE_STATUS_COMPLETE, signatures=signatures)


def _sign(
    signers: Sequence[MemberKey], digests: Sequence[bytes], schnorr: bool
) -> list[pb.WitnessData]:
    # Grouped input by input; within an input, in sorted public-key order.
    return [witness(signer, digest, schnorr) for digest in digests for signer in signers]
