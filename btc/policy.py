"""The spending policy: which well-formed peg-outs the node refuses to store or sign.

`parse_pegout` says a peg-out is a transaction the federation could sign;
`check_spend` says whether it should: every input is a federation coin,
nothing is spent twice or burnt, no output is dust, and the fee, the payout
and the change stay within `SpendPolicy`. Pure functions, no I/O: the
bridge calls them before anything is stored.

Dust limits and fee rates are Bitcoin Core's relay policy's; its other
standardness rules (script kinds, OP_RETURN data) are left to Core.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from btc.errors import PolicyViolation
from btc.pegout import PegoutInput, PegoutOutput, UnsignedPegout
from btc.taproot import taproot_output

_OP_0 = 0x00
_OP_1 = 0x51
_OP_16 = 0x60
_OP_RETURN = 0x6A
_PUSH_32 = 0x20
# Bitcoin Core's MAX_SCRIPT_SIZE: a longer script can never be spent.
MAX_SCRIPT_BYTES = 10_000
# The largest ECDSA signature a signed input can hold: a strict-DER, low-S
# signature is at most 71 bytes, plus the sighash byte, plus its push length.
MAX_SIGNATURE_PUSH = 73
# A BIP340 signature with a sighash byte (65 bytes) and its push length.
MAX_SCHNORR_PUSH = 66
# A one-leaf tree's control block: the leaf version and parity byte, the internal key.
_CONTROL_BLOCK_BYTES = 33
# What Bitcoin Core's dust rule charges for spending an output later: a
# witness input (67 vbytes, with a 107-byte witness at a quarter weight)
# or a legacy one (148 bytes).
_WITNESS_SPEND_VBYTES = 67
_LEGACY_SPEND_BYTES = 148


@dataclass(frozen=True)
class SpendPolicy:
    """What a peg-out may do; the defaults are safe for a federation holding real coins."""

    # A peg-out batches withdrawals; a hundred outputs is more than any batch
    # needs, bounds the work of checking one, and leaves few places to hide a payee.
    max_outputs: int = 100
    # Bitcoin Core's long-standing default -minrelaytxfee (1,000 sat/kvB): below
    # it a peg-out may never propagate, and its coins stay locked until replaced.
    min_fee_rate_sat_vb: float = 1.0
    # Above this the fee is overpayment, by mistake or by a governance draining
    # the federation into miners' hands; fee-market peaks have stayed below it.
    max_fee_rate_sat_vb: float = 500.0
    # 0.01 BTC: a full 100-output peg-out at about 290 sat/vB. The absolute
    # cap bounds the loss when the rate cap is met by a huge transaction.
    max_fee_sat: int = 1_000_000
    # 10 BTC per peg-out to payees other than the federation (change is not
    # payout); the same as bridge.max_pegout_sat's default.
    max_payout_sat: int = 1_000_000_000
    # What the federation's wallet builds: version 2 (BIP 68 sequence locks).
    # Version 1 is legal but nothing here makes it; 3 (TRUC) has relay rules of its own.
    versions: tuple[int, ...] = (2,)
    # A peg-out is paid now: a lock time would hold a signed transaction, and
    # the coins it spends, back until a height or a time governance chose.
    max_locktime: int = 0
    # Change returns to the federation in one output; splitting it serves no payee.
    max_change_outputs: int = 1
    # Bitcoin Core's -dustrelayfee default (DUST_RELAY_TX_FEE), sat per 1,000 vbytes.
    dust_relay_fee_sat_kvb: int = 3000


@dataclass(frozen=True)
class Spend:
    """What an accepted peg-out moves: the facts the bridge records and counts."""

    outpoints: tuple[str, ...]  # "<prevout txid>:<vout>", in input order
    inputs_sat: int
    outputs_sat: int
    fee_sat: int
    vsize: int  # estimated once signed, never under the real one
    fee_rate_sat_vb: float  # over the estimated vsize, so never over the real rate
    payout_sat: int  # outputs paying anyone but the federation
    change_sat: int  # outputs paying the federation's own script


def check_spend(
    pegout: UnsignedPegout,
    *,
    witness_script: bytes,
    threshold: int,
    policy: SpendPolicy,
    taproot_keys: int | None = None,
) -> Spend:
    """The peg-out's `Spend`, or `PolicyViolation` for the first rule it breaks.

    Every input is a coin of the federation whose script is `witness_script`,
    `threshold` signatures each; `pegout.amounts` are their values. For a P2TR
    federation `witness_script` is its leaf script and `taproot_keys` the number of
    keys in it. The checks run from the cheapest and most basic to the fee, which
    needs the signed size.
    """
    inputs = pegout.inputs
    _check_coverage(pegout.input_indices, len(inputs))
    points = _check_outpoints(inputs)
    _check_version(pegout.version, policy.versions)
    _check_locktime(pegout.locktime, policy.max_locktime)
    outputs = pegout.outputs
    if len(outputs) > policy.max_outputs:
        raise PolicyViolation(
            f"the peg-out has {len(outputs)} outputs; at most {policy.max_outputs} are allowed",
            kind="too_many_outputs",
        )
    inputs_sat = sum(pegout.amounts)
    outputs_sat = sum(output.value_sat for output in outputs)
    if outputs_sat > inputs_sat:
        raise PolicyViolation(
            f"the outputs pay {outputs_sat:,} sat but the inputs hold only {inputs_sat:,} sat",
            kind="outputs_exceed_inputs",
        )
    for index, output in enumerate(outputs):
        _check_output(index, output, policy.dust_relay_fee_sat_kvb)
    change_script = (
        p2wsh_script_pubkey(witness_script)
        if taproot_keys is None
        else taproot_output(witness_script).script_pubkey
    )
    change = [output.value_sat for output in outputs if output.script_pubkey == change_script]
    if len(change) > policy.max_change_outputs:
        raise PolicyViolation(
            f"{len(change)} outputs pay the federation's own script back; at most "
            f"{_count(policy.max_change_outputs, 'change output')} allowed",
            kind="change_outputs",
        )
    change_sat = sum(change)
    payout_sat = outputs_sat - change_sat
    if payout_sat > policy.max_payout_sat:
        raise PolicyViolation(
            f"the peg-out pays out {payout_sat:,} sat (besides {change_sat:,} sat of change); "
            f"at most {policy.max_payout_sat:,} sat is allowed",
            kind="payout_high",
        )
    fee_sat = inputs_sat - outputs_sat
    vsize = signed_vsize(pegout, witness_script, threshold, taproot_keys)
    rate = fee_sat / vsize
    _check_fee(fee_sat, vsize, rate, policy)
    return Spend(
        outpoints=points,
        inputs_sat=inputs_sat,
        outputs_sat=outputs_sat,
        fee_sat=fee_sat,
        vsize=vsize,
        fee_rate_sat_vb=rate,
        payout_sat=payout_sat,
        change_sat=change_sat,
    )


def outpoints(pegout: UnsignedPegout) -> tuple[str, ...]:
    """The coins the peg-out spends, "<prevout txid>:<vout>", in input order."""
    return tuple(tx_input.outpoint for tx_input in pegout.inputs)


def signed_vsize(
    pegout: UnsignedPegout, witness_script: bytes, threshold: int, taproot_keys: int | None = None
) -> int:
    """The peg-out's virtual size once signed, at the largest signatures: never too small.

    Each signed input's witness is the stack `assemble` builds. P2WSH: the item
    count, the empty item CHECKMULTISIG pops, `threshold` signatures and the
    witness script. P2TR (`taproot_keys` given, `witness_script` the leaf): the item
    count, one item per leaf key (`threshold` signatures, the rest empty), the leaf and
    the control block. An input outside `input_indices` keeps an empty witness.
    """
    signed = len(pegout.input_indices)
    unsigned = len(pegout.inputs) - signed
    script_bytes = compact_size_len(len(witness_script)) + len(witness_script)
    if taproot_keys is None:
        per_input = (
            compact_size_len(threshold + 2) + 1 + threshold * MAX_SIGNATURE_PUSH + script_bytes
        )
    else:
        per_input = (
            compact_size_len(taproot_keys + 2)
            + threshold * MAX_SCHNORR_PUSH
            + (taproot_keys - threshold)  # an empty item is its length byte alone
            + script_bytes
            + 1
            + _CONTROL_BLOCK_BYTES
        )
    # The segwit marker and flag (2 bytes) and every witness count at one weight unit a byte.
    weight = 4 * pegout.size_bytes + 2 + signed * per_input + unsigned
    return -(-weight // 4)


def dust_threshold(script_pubkey: bytes, relay_fee_sat_kvb: int = 3000) -> int | None:
    """Bitcoin Core's dust limit for an output paying `script_pubkey`; None if unspendable.

    An output is dust when its value is below this: spending it would cost
    more, at `relay_fee_sat_kvb`, than it holds. An unspendable output has
    no limit: its value is simply burnt.
    """
    if is_unspendable(script_pubkey):
        return None
    size = 8 + compact_size_len(len(script_pubkey)) + len(script_pubkey)
    size += _WITNESS_SPEND_VBYTES if _is_witness_program(script_pubkey) else _LEGACY_SPEND_BYTES
    fee = size * relay_fee_sat_kvb // 1000
    # As Core's CFeeRate: a positive rate never rounds a fee down to nothing.
    return max(fee, 1) if relay_fee_sat_kvb > 0 else fee


def is_unspendable(script_pubkey: bytes) -> bool:
    """Whether no input can ever spend it (Core's CScript::IsUnspendable)."""
    return (
        script_pubkey[:1] == bytes([_OP_RETURN]) or len(script_pubkey) > MAX_SCRIPT_BYTES
    )


def script_type(script_pubkey: bytes) -> str:
    """A short name for the kind of script, for messages."""
    script, size = script_pubkey, len(script_pubkey)
    if size == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return "p2pkh"
    if size == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return "p2sh"
    if is_unspendable(script):
        return "op_return" if script[:1] == bytes([_OP_RETURN]) else "oversized"
    if _is_witness_program(script):
        version = 0 if script[0] == _OP_0 else script[0] - _OP_1 + 1
        kinds = {(0, 20): "p2wpkh", (0, 32): "p2wsh", (1, 32): "p2tr"}
        return kinds.get((version, size - 2), f"witness_v{version}")
    return "other"


def p2wsh_script_pubkey(witness_script: bytes) -> bytes:
    """`OP_0 <sha256(witness_script)>`: the output script of the federation's address."""
    return bytes([_OP_0, _PUSH_32]) + hashlib.sha256(witness_script).digest()


def compact_size_len(value: int) -> int:
    """Bytes of Bitcoin's CompactSize encoding of `value`."""
    if value < 0xFD:
        return 1
    if value <= 0xFFFF:
        return 3
    return 5 if value <= 0xFFFF_FFFF else 9


def _is_witness_program(script: bytes) -> bool:
    # Core's CScript::IsWitnessProgram: a version opcode (OP_0, OP_1..OP_16)
    # then one direct push of 2 to 40 bytes, and nothing else.
    return (
        4 <= len(script) <= 42
        and (script[0] == _OP_0 or _OP_1 <= script[0] <= _OP_16)
        and script[1] + 2 == len(script)
    )


def _check_coverage(input_indices: tuple[int, ...], n_inputs: int) -> None:
    missing = sorted(set(range(n_inputs)) - set(input_indices))
    if missing:
        named = ", ".join(str(index) for index in missing)
        which = f"input {named} is" if len(missing) == 1 else f"inputs {named} are"
        raise PolicyViolation(
            f"{which} not in input_indices (the transaction has {n_inputs} inputs); every "
            "input of a peg-out must be a federation coin, signed by the federation",
            kind="inputs_not_covered",
        )


def _check_outpoints(inputs: tuple[PegoutInput, ...]) -> tuple[str, ...]:
    first: dict[str, int] = {}
    for index, tx_input in enumerate(inputs):
        point = tx_input.outpoint
        if point in first:
            raise PolicyViolation(
                f"inputs {first[point]} and {index} both spend {point}",
                kind="duplicate_outpoint",
            )
        first[point] = index
    return tuple(first)


def _check_version(version: int, allowed: tuple[int, ...]) -> None:
    if version not in allowed:
        listed = ", ".join(str(value) for value in allowed)
        raise PolicyViolation(
            f"the transaction has version {version}; allowed: {listed}", kind="version"
        )


def _check_locktime(locktime: int, maximum: int) -> None:
    if locktime > maximum:
        raise PolicyViolation(
            f"the transaction's lock time is {locktime:,}; at most {maximum:,} is allowed",
            kind="locktime",
        )


def _check_output(index: int, output: PegoutOutput, relay_fee_sat_kvb: int) -> None:
    limit = dust_threshold(output.script_pubkey, relay_fee_sat_kvb)
    kind = script_type(output.script_pubkey)
    if limit is None:
        if output.value_sat:
            raise PolicyViolation(
                f"output {index} ({kind}) can never be spent yet carries "
                f"{output.value_sat:,} sat, which would be burnt",
                kind="burn",
            )
    elif output.value_sat < limit:
        raise PolicyViolation(
            f"output {index} ({kind}) pays {output.value_sat:,} sat, under the dust limit of "
            f"{limit:,} sat for a {kind} output",
            kind="dust",
        )


def _check_fee(fee_sat: int, vsize: int, rate: float, policy: SpendPolicy) -> None:
    # The rate is over the largest signed size: the real rate is never lower than the
    # rate checked, and higher by at most a few percent (its signatures may be shorter).
    what = (
        f"the fee is {fee_sat:,} sat ({rate:,.2f} sat/vB over an estimated signed size "
        f"of {vsize:,} vB)"
    )
    if fee_sat > policy.max_fee_sat:
        raise PolicyViolation(
            f"{what}; at most {policy.max_fee_sat:,} sat is allowed", kind="fee_high"
        )
    if rate > policy.max_fee_rate_sat_vb:
        raise PolicyViolation(
            f"{what}; at most {policy.max_fee_rate_sat_vb:,g} sat/vB is allowed",
            kind="fee_rate_high",
        )
    if rate < policy.min_fee_rate_sat_vb:
        raise PolicyViolation(
            f"{what}; at least {policy.min_fee_rate_sat_vb:,g} sat/vB is needed to relay",
            kind="fee_rate_low",
        )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s") + (" is" if number == 1 else " are")
