"""What a new peg-out must pass before anything of it is stored or signed (pure).

In order: the spending policy (`btc.policy`, `bridge.policy`) against the federation in
force, the outflow window (`bridge.outflow`), and, for a replacement, the rules that make
the original and its replacement conflict. What passes comes out as an `Admitted`: the
spend's figures for the record, and the coins to reserve (`Claim`) in the same write as
the record, so that no other open peg-out can hold them.

The reservation itself is storage's to grant (`actors.storage`): a coin another peg-out
holds is found by the write and refused there, naming that peg-out.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.bridge.situation import Situation, parse_record
from actors.messages import Member, PegoutState
from actors.storage.records import Claim, PegoutRecord
from btc.errors import PolicyViolation
from btc.federation import Federation
from btc.pegout import UnsignedPegout
from btc.policy import Spend, check_spend, outpoints

# A replacement also claims this token, so that a peg-out has one open replacement at a
# time: two replacements that each shared a different coin of the original could both
# confirm, and pay twice.
REPLACEMENT_OF = "replacement-of:"


@dataclass(frozen=True)
class Refusal:
    kind: str  # the metric label (`alys_pegouts_rejected_total{reason}`)
    reason: str


@dataclass(frozen=True)
class Admitted:
    spend: Spend
    claim: Claim


def admit(request_id: str, pegout: UnsignedPegout, situation: Situation,
          original: PegoutRecord | None = None, replaces: str | None = None,
          federation: Federation[Member] | None = None) -> Admitted | Refusal:
    """Check a parsed new peg-out (or, with `replaces`, a replacement of `original`) that
    spends coins of `federation` (None: the one in force)."""
    federation = federation or situation.federation
    assert federation is not None  # the caller refused a peg-out without one
    try:
        spend = check_spend(pegout, witness_script=federation.witness_script,
                            threshold=federation.threshold, policy=situation.rules.policy,
                            taproot_keys=(len(federation.xonly_keys) if federation.is_taproot
                                          else None))
    except PolicyViolation as exc:
        return Refusal(exc.kind, str(exc))
    coins = spend.outpoints
    new_payout = spend.payout_sat
    if replaces is not None:
        refusal = _replacement_problem(request_id, replaces, original, coins)
        if refusal is not None:
            return refusal
        assert original is not None
        coins = (*coins, REPLACEMENT_OF + replaces)
        # At most one of the two can be paid: what a replacement adds to its original's
        # payout must fit the window, so that a fee bump is never held up by a full one.
        # (Both are counted until the original is `replaced`, as storage counts them.)
        new_payout = spend.payout_sat - original.payout_sat
    if new_payout > 0:
        blocked = situation.outflow(situation.now_s, new_payout)
        if blocked is not None:
            return Refusal("outflow", blocked)
    return Admitted(spend, Claim(request_id, coins, shares_with=replaces, at=situation.now_s))


def _replacement_problem(request_id: str, replaces: str, original: PegoutRecord | None,
                         coins: tuple[str, ...]) -> Refusal | None:
    if replaces == request_id:
        return Refusal("replacement", f"peg-out {request_id!r} cannot replace itself")
    if original is None:
        return Refusal("replacement", f"no peg-out {replaces!r} to replace")
    state = PegoutState(original.state)
    if state is PegoutState.CONFIRMED:
        return Refusal("replacement", f"peg-out {replaces!r} is confirmed: it was paid")
    if state is PegoutState.REPLACED:
        return Refusal("replacement", f"peg-out {replaces!r} was already replaced by "
                                      f"{original.replaced_by!r}; replace that one")
    if original.signed_tx_hex is None:
        # Never signed: nothing of it can be on the network, and a failed one has given
        # its coins back; an awaiting one is still the bridge's to finish or fail.
        return Refusal("replacement", f"peg-out {replaces!r} is {state.value} and was never "
                                      "signed: there is nothing to replace")
    theirs = _coins_of(original)
    if not set(coins) & set(theirs):
        return Refusal("replacement", f"the replacement spends no coin of peg-out "
                                      f"{replaces!r}, so both could be paid")
    missing = [coin for coin in theirs if coin not in coins]
    if original.replaces is not None and missing:
        # Conflict does not carry down a chain: sharing one coin with a replacement that
        # shares another with its own original would leave that original and this one
        # free to both confirm. Spending every coin of the replacement keeps the chain
        # in conflict with every peg-out in it.
        return Refusal("replacement", f"peg-out {replaces!r} is itself a replacement: a "
                                      f"replacement of it must spend all of its coins "
                                      f"(missing {', '.join(missing)})")
    return None


def _coins_of(record: PegoutRecord) -> tuple[str, ...]:
    return outpoints(parse_record(record))
