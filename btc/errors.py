"""The errors of `btc/`: one root, one class per thing that can be wrong.

Every error is a `ValueError` (the input was bad, not the node) and its
`str()` is the precise reason, fit for a log line or an `ErrorResponse`.
"""

from __future__ import annotations

SIGNATURE_ERROR_KINDS = frozenset(
    {
        "count",
        "non_member",
        "duplicate_signer",
        "malformed_signature",
        "sighash_type",
        "bad_signature",
        "wrong_sig_type",
    }
)

# The rules of `btc.policy.check_spend`, one label each (also a metric label).
POLICY_VIOLATION_KINDS = frozenset(
    {
        "inputs_not_covered",
        "duplicate_outpoint",
        "outputs_exceed_inputs",
        "too_many_outputs",
        "dust",
        "burn",
        "fee_rate_low",
        "fee_rate_high",
        "fee_high",
        "payout_high",
        "change_outputs",
        "version",
        "locktime",
    }
)


class BtcError(ValueError):
    """Root of every error raised by `btc/`."""


class PegoutInvalid(BtcError):
    """An unsigned peg-out transaction, or the inputs and amounts to sign, are unusable."""


class SignaturesInvalid(BtcError):
    """Governance's signatures cannot complete the peg-out.

    `kind` is one of `SIGNATURE_ERROR_KINDS`, so callers can count failures by
    cause without parsing the message; `input_index` (the transaction's input
    number) and `public_key` name the culprit where there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        input_index: int | None = None,
        public_key: bytes | None = None,
    ) -> None:
        if kind not in SIGNATURE_ERROR_KINDS:
            raise ValueError(f"unknown SignaturesInvalid kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.input_index = input_index
        self.public_key = public_key

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields are lost by the default exception pickling, and
        # errors do cross process boundaries inside actor replies.
        fields = (str(self), self.kind, self.input_index, self.public_key)
        return (_rebuild_signatures_invalid, fields)


def _rebuild_signatures_invalid(
    message: str, kind: str, input_index: int | None, public_key: bytes | None
) -> SignaturesInvalid:
    return SignaturesInvalid(message, kind=kind, input_index=input_index, public_key=public_key)


class PolicyViolation(BtcError):
    """A well-formed peg-out that the node's spending policy forbids.

    `kind` is one of `POLICY_VIOLATION_KINDS`: which rule refused it, for
    counting refusals by cause; the message gives the numbers.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        if kind not in POLICY_VIOLATION_KINDS:
            raise ValueError(f"unknown PolicyViolation kind {kind!r}")
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[object, ...]:
        # As for SignaturesInvalid: the keyword-only kind would not survive pickling.
        return (_rebuild_policy_violation, (str(self), self.kind))


def _rebuild_policy_violation(message: str, kind: str) -> PolicyViolation:
    return PolicyViolation(message, kind=kind)


class FederationInvalid(BtcError):
    """A federation update must not be applied."""


class PeginInvalid(BtcError):
    """A peg-in notification does not describe a creditable deposit."""
