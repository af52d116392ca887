"""What a broadcaster raises, and the input check every broadcaster makes first.

A leaf module: the spool (`spool.py`) and the JSON-RPC broadcaster (`rpc.py`)
both import it, and `broadcast.py` re-exports it as part of the interface.
"""

from __future__ import annotations

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class BroadcastError(Exception):
    """Root of every error a broadcaster raises; ``retryable`` says whether a retry can help."""

    retryable: bool = False


# Bitcoin Core's reasons for refusing a transaction because its inputs are gone:
#   "bad-txns-inputs-missingorspent"  (-25) no unspent coin for an input, in the chain
#       or the mempool; "Inputs missing or spent" when Core has no reason string, and
#       "Missing inputs" from older nodes;
#   "txn-mempool-conflict"  (-26) a mempool transaction spends an input and may not be
#       replaced;
#   "rejecting replacement"  (-26) the same, refused by the replacement (RBF) rules:
#       "insufficient fee, rejecting replacement <txid>...", "too many potential
#       replacements, rejecting replacement ...".
# Each means "something else spends our inputs, or they never existed", and also
# follows when our own transaction confirmed (then its inputs are spent by itself):
# only a look-up of our txid tells which. Matched in lower case, with -25 or -26.
_INPUTS_SPENT_CODES = frozenset({-25, -26})
_INPUTS_SPENT_REASONS = (
    "missingorspent",
    "inputs missing or spent",
    "missing inputs",
    "txn-mempool-conflict",
    "rejecting replacement",
)


class BroadcastRejected(BroadcastError):
    """The network refused this transaction for good: retrying the same bytes cannot succeed.

    ``inputs_spent`` marks a refusal because the inputs are missing or spent by another
    transaction; that is also what Core answers when the transaction itself already
    spent them, so the caller asks about its own txid before it calls the peg-out failed.
    """

    retryable = False

    def __init__(self, code: int, message: str) -> None:
        # Both values go to Exception so the error survives pickling between actor processes.
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def inputs_spent(self) -> bool:
        lowered = self.message.lower()
        return self.code in _INPUTS_SPENT_CODES and any(
            reason in lowered for reason in _INPUTS_SPENT_REASONS)

    def __str__(self) -> str:
        return f"transaction rejected (RPC error {self.code}): {self.message}"


class BroadcastUnavailable(BroadcastError):
    """The transaction could not be handed over now (network, server or auth trouble)."""

    retryable = True


class SpoolCorrupt(BroadcastError):
    """A spool line other than a torn last one is malformed: a person has to look at it."""


class BroadcasterMisconfigured(BroadcastError, ValueError):
    """The config cannot build a broadcaster (missing URL, unset environment variable)."""


def check_tx(tx_hex: str, txid: str) -> None:
    """Raise ValueError (the caller's mistake, not a BroadcastError) unless `txid` is one
    token and `tx_hex` even-length hex. Both broadcasters refuse the same inputs."""
    # Whitespace in either field would break the spool's one-line-per-transaction format.
    if not txid or any(char.isspace() for char in txid):
        raise ValueError(f"txid must be a non-empty token without whitespace, got {txid!r}")
    if not tx_hex or len(tx_hex) % 2 or not _HEX_DIGITS.issuperset(tx_hex):
        raise ValueError(f"tx_hex for {txid} is not an even-length hex string")
