"""governance.v1 enums by the names the node uses, and the ranges of the wire's integers.

Enum values travel as lowercase names in the message dataclasses
(``TRANSACTION_TYPE_PEGOUT`` <-> ``"pegout"``), through one `EnumMap` per
enum, so no other module of the node needs the generated constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from actors.stream.wire.checks import INT64_MAX, InvalidField
from protocol import governance_pb2 as pb
from protocol.errors import EncodeError

__all__ = [
    "ERROR_CODES",
    "FEDERATION_UPDATE_TYPES",
    "HEALTH_STATUSES",
    "INT32_MAX",
    "INT64_MAX",
    "NODE_STATUSES",
    "PRIORITIES",
    "PROPOSAL_TYPES",
    "SIGNATURE_STATUSES",
    "SIGNATURE_TYPES",
    "STATUS_CODES",
    "SYNC_STATUSES",
    "TX_TYPES",
    "UNSPECIFIED",
    "EnumMap",
    "InvalidField",
]

INT32_MAX = 2**31 - 1
UNSPECIFIED = "unspecified"

# The generated enum class (pb.RequestPriority, ...): an int subclass in the stubs.
WireEnum = TypeVar("WireEnum", bound=int)


class EnumMap(Generic[WireEnum]):
    """One governance.v1 enum: the node's names <-> wire numbers.

    ``*_UNSPECIFIED`` (0) has no name: it is refused on the way out, and on
    the way in accepted (as ``"unspecified"``) only where a field allows it.
    """

    def __init__(self, enum_name: str, names: Mapping[str, WireEnum]) -> None:
        self.enum_name = enum_name
        self.by_name: Mapping[str, WireEnum] = dict(names)
        self.by_number: Mapping[int, str] = {number: name for name, number in names.items()}

    def wire(self, name: str) -> WireEnum:
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(self.by_name)
            raise EncodeError(f"{name!r} is not a {self.enum_name} (known: {known})") from None

    def name(self, number: int, field: str, *, allow_unspecified: bool = False) -> str:
        if number == 0 and allow_unspecified:
            return UNSPECIFIED
        if number == 0:
            raise InvalidField(f"{field} is {self.enum_name} UNSPECIFIED")
        try:
            return self.by_number[number]
        except KeyError:
            raise InvalidField(f"{field} has unknown {self.enum_name} value {number}") from None


PRIORITIES = EnumMap(
    "RequestPriority",
    {
        "low": pb.REQUEST_PRIORITY_LOW,
        "normal": pb.REQUEST_PRIORITY_NORMAL,
        "high": pb.REQUEST_PRIORITY_HIGH,
        "critical": pb.REQUEST_PRIORITY_CRITICAL,
    },
)
STATUS_CODES = EnumMap(
    "StatusCode",
    {
        "success": pb.STATUS_CODE_SUCCESS,
        "error": pb.STATUS_CODE_ERROR,
        "timeout": pb.STATUS_CODE_TIMEOUT,
        "unauthorized": pb.STATUS_CODE_UNAUTHORIZED,
        "rate_limited": pb.STATUS_CODE_RATE_LIMITED,
        "service_unavailable": pb.STATUS_CODE_SERVICE_UNAVAILABLE,
    },
)
TX_TYPES = EnumMap(
    "TransactionType",
    {
        "pegin": pb.TRANSACTION_TYPE_PEGIN,
        "pegout": pb.TRANSACTION_TYPE_PEGOUT,
        "federation_change": pb.TRANSACTION_TYPE_FEDERATION_CHANGE,
        "emergency": pb.TRANSACTION_TYPE_EMERGENCY,
    },
)
SIGNATURE_STATUSES = EnumMap(
    "SignatureStatus",
    {
        "pending": pb.SIGNATURE_STATUS_PENDING,
        "partial": pb.SIGNATURE_STATUS_PARTIAL,
        "complete": pb.SIGNATURE_STATUS_COMPLETE,
        "failed": pb.SIGNATURE_STATUS_FAILED,
        "timeout": pb.SIGNATURE_STATUS_TIMEOUT,
    },
)
SIGNATURE_TYPES = EnumMap(
    "SignatureType",
    {
        "ecdsa": pb.SIGNATURE_TYPE_ECDSA,
        "schnorr": pb.SIGNATURE_TYPE_SCHNORR,
        "bls": pb.SIGNATURE_TYPE_BLS,
    },
)
FEDERATION_UPDATE_TYPES = EnumMap(
    "FederationUpdateType",
    {
        "member_add": pb.FEDERATION_UPDATE_TYPE_MEMBER_ADD,
        "member_remove": pb.FEDERATION_UPDATE_TYPE_MEMBER_REMOVE,
        "config_change": pb.FEDERATION_UPDATE_TYPE_CONFIG_CHANGE,
        "emergency_halt": pb.FEDERATION_UPDATE_TYPE_EMERGENCY_HALT,
    },
)
PROPOSAL_TYPES = EnumMap(
    "ProposalType",
    {
        "federation_change": pb.PROPOSAL_TYPE_FEDERATION_CHANGE,
        "parameter_change": pb.PROPOSAL_TYPE_PARAMETER_CHANGE,
        "emergency_action": pb.PROPOSAL_TYPE_EMERGENCY_ACTION,
        "upgrade": pb.PROPOSAL_TYPE_UPGRADE,
    },
)
NODE_STATUSES = EnumMap(
    "NodeStatus",
    {
        "starting": pb.NODE_STATUS_STARTING,
        "syncing": pb.NODE_STATUS_SYNCING,
        "active": pb.NODE_STATUS_ACTIVE,
        "degraded": pb.NODE_STATUS_DEGRADED,
        "offline": pb.NODE_STATUS_OFFLINE,
    },
)
SYNC_STATUSES = EnumMap(
    "SyncStatus",
    {
        "synced": pb.SYNC_STATUS_SYNCED,
        "syncing": pb.SYNC_STATUS_SYNCING,
        "stalled": pb.SYNC_STATUS_STALLED,
        "error": pb.SYNC_STATUS_ERROR,
    },
)
HEALTH_STATUSES = EnumMap(
    "HealthStatus",
    {
        "healthy": pb.HEALTH_STATUS_HEALTHY,
        "degraded": pb.HEALTH_STATUS_DEGRADED,
        "unhealthy": pb.HEALTH_STATUS_UNHEALTHY,
        "unknown": pb.HEALTH_STATUS_UNKNOWN,
    },
)
ERROR_CODES = EnumMap(
    "ErrorCode",
    {
        "invalid_request": pb.ERROR_CODE_INVALID_REQUEST,
        "authentication_failed": pb.ERROR_CODE_AUTHENTICATION_FAILED,
        "authorization_failed": pb.ERROR_CODE_AUTHORIZATION_FAILED,
        "rate_limited": pb.ERROR_CODE_RATE_LIMITED,
        "service_unavailable": pb.ERROR_CODE_SERVICE_UNAVAILABLE,
        "timeout": pb.ERROR_CODE_TIMEOUT,
        "internal_error": pb.ERROR_CODE_INTERNAL_ERROR,
        "invalid_signature": pb.ERROR_CODE_INVALID_SIGNATURE,
        "insufficient_signatures": pb.ERROR_CODE_INSUFFICIENT_SIGNATURES,
        "federation_error": pb.ERROR_CODE_FEDERATION_ERROR,
    },
)
