"""What a broadcaster raises, and the input check every broadcaster makes first.

A leaf module: the spool (`spool.py`) and the JSON-RPC broadcaster (`rpc.py`)
both import it, and `broadcast.py` re-exports it as part of the interface.
"""

from __future__ import annotations

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class BroadcastError(Exception):
    """Root of every error a broadcaster raises; ``retryable`` says whether a retry can help."""

    retryable: bool = False


class BroadcastRejected(BroadcastError):
    """The network refused this transaction for good: retrying the same bytes cannot succeed."""

    retryable = False

    def __init__(self, code: int, message: str) -> None:
        # Both values go to Exception so the error survives pickling between actor processes.
        super().__init__(code, message)
        self.code = code
        self.message = message

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
