from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUEST_PRIORITY_UNSPECIFIED: _ClassVar[RequestPriority]
    REQUEST_PRIORITY_LOW: _ClassVar[RequestPriority]
    REQUEST_PRIORITY_NORMAL: _ClassVar[RequestPriority]
    REQUEST_PRIORITY_HIGH: _ClassVar[RequestPriority]
    REQUEST_PRIORITY_CRITICAL: _ClassVar[RequestPriority]

class StatusCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_CODE_UNSPECIFIED: _ClassVar[StatusCode]
    STATUS_CODE_SUCCESS: _ClassVar[StatusCode]
    STATUS_CODE_ERROR: _ClassVar[StatusCode]
    STATUS_CODE_TIMEOUT: _ClassVar[StatusCode]
    STATUS_CODE_UNAUTHORIZED: _ClassVar[StatusCode]
    STATUS_CODE_RATE_LIMITED: _ClassVar[StatusCode]
    STATUS_CODE_SERVICE_UNAVAILABLE: _ClassVar[StatusCode]

class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_TYPE_UNSPECIFIED: _ClassVar[TransactionType]
    TRANSACTION_TYPE_PEGIN: _ClassVar[TransactionType]
    TRANSACTION_TYPE_PEGOUT: _ClassVar[TransactionType]
    TRANSACTION_TYPE_FEDERATION_CHANGE: _ClassVar[TransactionType]
    TRANSACTION_TYPE_EMERGENCY: _ClassVar[TransactionType]

class SignatureStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_STATUS_UNSPECIFIED: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_PENDING: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_PARTIAL: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_COMPLETE: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_FAILED: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_TIMEOUT: _ClassVar[SignatureStatus]

class FederationUpdateType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEDERATION_UPDATE_TYPE_UNSPECIFIED: _ClassVar[FederationUpdateType]
    FEDERATION_UPDATE_TYPE_MEMBER_ADD: _ClassVar[FederationUpdateType]
    FEDERATION_UPDATE_TYPE_MEMBER_REMOVE: _ClassVar[FederationUpdateType]
    FEDERATION_UPDATE_TYPE_CONFIG_CHANGE: _ClassVar[FederationUpdateType]
    FEDERATION_UPDATE_TYPE_EMERGENCY_HALT: _ClassVar[FederationUpdateType]

class ProposalType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROPOSAL_TYPE_UNSPECIFIED: _ClassVar[ProposalType]
    PROPOSAL_TYPE_FEDERATION_CHANGE: _ClassVar[ProposalType]
    PROPOSAL_TYPE_PARAMETER_CHANGE: _ClassVar[ProposalType]
    PROPOSAL_TYPE_EMERGENCY_ACTION: _ClassVar[ProposalType]
    PROPOSAL_TYPE_UPGRADE: _ClassVar[ProposalType]

class NodeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_TYPE_UNSPECIFIED: _ClassVar[NodeType]
    NODE_TYPE_VALIDATOR: _ClassVar[NodeType]
    NODE_TYPE_OBSERVER: _ClassVar[NodeType]
    NODE_TYPE_BRIDGE: _ClassVar[NodeType]
    NODE_TYPE_SIGNER: _ClassVar[NodeType]

class EndpointType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENDPOINT_TYPE_UNSPECIFIED: _ClassVar[EndpointType]
    ENDPOINT_TYPE_GRPC: _ClassVar[EndpointType]
    ENDPOINT_TYPE_REST: _ClassVar[EndpointType]
    ENDPOINT_TYPE_WEBSOCKET: _ClassVar[EndpointType]

class AuthType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUTH_TYPE_UNSPECIFIED: _ClassVar[AuthType]
    AUTH_TYPE_BEARER: _ClassVar[AuthType]
    AUTH_TYPE_MUTUAL_TLS: _ClassVar[AuthType]
    AUTH_TYPE_SIGNATURE: _ClassVar[AuthType]
    AUTH_TYPE_API_KEY: _ClassVar[AuthType]

class SignatureType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_TYPE_UNSPECIFIED: _ClassVar[SignatureType]
    SIGNATURE_TYPE_ECDSA: _ClassVar[SignatureType]
    SIGNATURE_TYPE_SCHNORR: _ClassVar[SignatureType]
    SIGNATURE_TYPE_BLS: _ClassVar[SignatureType]

class NodeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATUS_UNSPECIFIED: _ClassVar[NodeStatus]
    NODE_STATUS_STARTING: _ClassVar[NodeStatus]
    NODE_STATUS_SYNCING: _ClassVar[NodeStatus]
    NODE_STATUS_ACTIVE: _ClassVar[NodeStatus]
    NODE_STATUS_DEGRADED: _ClassVar[NodeStatus]
    NODE_STATUS_OFFLINE: _ClassVar[NodeStatus]

class SyncStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_STATUS_UNSPECIFIED: _ClassVar[SyncStatus]
    SYNC_STATUS_SYNCED: _ClassVar[SyncStatus]
    SYNC_STATUS_SYNCING: _ClassVar[SyncStatus]
    SYNC_STATUS_STALLED: _ClassVar[SyncStatus]
    SYNC_STATUS_ERROR: _ClassVar[SyncStatus]

class HealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_UNSPECIFIED: _ClassVar[HealthStatus]
    HEALTH_STATUS_HEALTHY: _ClassVar[HealthStatus]
    HEALTH_STATUS_DEGRADED: _ClassVar[HealthStatus]
    HEALTH_STATUS_UNHEALTHY: _ClassVar[HealthStatus]
    HEALTH_STATUS_UNKNOWN: _ClassVar[HealthStatus]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    ERROR_CODE_INVALID_REQUEST: _ClassVar[ErrorCode]
    ERROR_CODE_AUTHENTICATION_FAILED: _ClassVar[ErrorCode]
    ERROR_CODE_AUTHORIZATION_FAILED: _ClassVar[ErrorCode]
    ERROR_CODE_RATE_LIMITED: _ClassVar[ErrorCode]
    ERROR_CODE_SERVICE_UNAVAILABLE: _ClassVar[ErrorCode]
    ERROR_CODE_TIMEOUT: _ClassVar[ErrorCode]
    ERROR_CODE_INTERNAL_ERROR: _ClassVar[ErrorCode]
    ERROR_CODE_INVALID_SIGNATURE: _ClassVar[ErrorCode]
    ERROR_CODE_INSUFFICIENT_SIGNATURES: _ClassVar[ErrorCode]
    ERROR_CODE_FEDERATION_ERROR: _ClassVar[ErrorCode]
REQUEST_PRIORITY_UNSPECIFIED: RequestPriority
REQUEST_PRIORITY_LOW: RequestPriority
REQUEST_PRIORITY_NORMAL: RequestPriority
REQUEST_PRIORITY_HIGH: RequestPriority
REQUEST_PRIORITY_CRITICAL: RequestPriority
STATUS_CODE_UNSPECIFIED: StatusCode
STATUS_CODE_SUCCESS: StatusCode
STATUS_CODE_ERROR: StatusCode
STATUS_CODE_TIMEOUT: StatusCode
STATUS_CODE_UNAUTHORIZED: StatusCode
STATUS_CODE_RATE_LIMITED: StatusCode
STATUS_CODE_SERVICE_UNAVAILABLE: StatusCode
TRANSACTION_TYPE_UNSPECIFIED: TransactionType
TRANSACTION_TYPE_PEGIN: TransactionType
TRANSACTION_TYPE_PEGOUT: TransactionType
TRANSACTION_TYPE_FEDERATION_CHANGE: TransactionType
TRANSACTION_TYPE_EMERGENCY: TransactionType
SIGNATURE_STATUS_UNSPECIFIED: SignatureStatus
SIGNATURE_STATUS_PENDING: SignatureStatus
SIGNATURE_STATUS_PARTIAL: SignatureStatus
SIGNATURE_STATUS_COMPLETE: SignatureStatus
SIGNATURE_STATUS_FAILED: SignatureStatus
SIGNATURE_STATUS_TIMEOUT: SignatureStatus
FEDERATION_UPDATE_TYPE_UNSPECIFIED: FederationUpdateType
FEDERATION_UPDATE_TYPE_MEMBER_ADD: FederationUpdateType
FEDERATION_UPDATE_TYPE_MEMBER_REMOVE: FederationUpdateType
FEDERATION_UPDATE_TYPE_CONFIG_CHANGE: FederationUpdateType
FEDERATION_UPDATE_TYPE_EMERGENCY_HALT: FederationUpdateType
PROPOSAL_TYPE_UNSPECIFIED: ProposalType
PROPOSAL_TYPE_FEDERATION_CHANGE: ProposalType
PROPOSAL_TYPE_PARAMETER_CHANGE: ProposalType
PROPOSAL_TYPE_EMERGENCY_ACTION: ProposalType
PROPOSAL_TYPE_UPGRADE: ProposalType
NODE_TYPE_UNSPECIFIED: NodeType
NODE_TYPE_VALIDATOR: NodeType
NODE_TYPE_OBSERVER: NodeType
NODE_TYPE_BRIDGE: NodeType
NODE_TYPE_SIGNER: NodeType
ENDPOINT_TYPE_UNSPECIFIED: EndpointType
ENDPOINT_TYPE_GRPC: EndpointType
ENDPOINT_TYPE_REST: EndpointType
ENDPOINT_TYPE_WEBSOCKET: EndpointType
AUTH_TYPE_UNSPECIFIED: AuthType
AUTH_TYPE_BEARER: AuthType
AUTH_TYPE_MUTUAL_TLS: AuthType
AUTH_TYPE_SIGNATURE: AuthType
AUTH_TYPE_API_KEY: AuthType
SIGNATURE_TYPE_UNSPECIFIED: SignatureType
SIGNATURE_TYPE_ECDSA: SignatureType
SIGNATURE_TYPE_SCHNORR: SignatureType
SIGNATURE_TYPE_BLS: SignatureType
NODE_STATUS_UNSPECIFIED: NodeStatus
NODE_STATUS_STARTING: NodeStatus
NODE_STATUS_SYNCING: NodeStatus
NODE_STATUS_ACTIVE: NodeStatus
NODE_STATUS_DEGRADED: NodeStatus
NODE_STATUS_OFFLINE: NodeStatus
SYNC_STATUS_UNSPECIFIED: SyncStatus
SYNC_STATUS_SYNCED: SyncStatus
SYNC_STATUS_SYNCING: SyncStatus
SYNC_STATUS_STALLED: SyncStatus
SYNC_STATUS_ERROR: SyncStatus
HEALTH_STATUS_UNSPECIFIED: HealthStatus
HEALTH_STATUS_HEALTHY: HealthStatus
HEALTH_STATUS_DEGRADED: HealthStatus
HEALTH_STATUS_UNHEALTHY: HealthStatus
HEALTH_STATUS_UNKNOWN: HealthStatus
ERROR_CODE_UNSPECIFIED: ErrorCode
ERROR_CODE_INVALID_REQUEST: ErrorCode
ERROR_CODE_AUTHENTICATION_FAILED: ErrorCode
ERROR_CODE_AUTHORIZATION_FAILED: ErrorCode
ERROR_CODE_RATE_LIMITED: ErrorCode
ERROR_CODE_SERVICE_UNAVAILABLE: ErrorCode
ERROR_CODE_TIMEOUT: ErrorCode
ERROR_CODE_INTERNAL_ERROR: ErrorCode
ERROR_CODE_INVALID_SIGNATURE: ErrorCode
ERROR_CODE_INSUFFICIENT_SIGNATURES: ErrorCode
ERROR_CODE_FEDERATION_ERROR: ErrorCode

class StreamRequest(_message.Message):
    __slots__ = ("metadata", "node_registration", "signature_request", "pegin_notification", "status_update", "heartbeat")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NODE_REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PEGIN_NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_UPDATE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    metadata: RequestMetadata
    node_registration: NodeRegistration
    signature_request: SignatureRequest
    pegin_notification: PeginNotification
    status_update: StatusUpdate
    heartbeat: Heartbeat
    def __init__(self, metadata: _Optional[_Union[RequestMetadata, _Mapping]] = ..., node_registration: _Optional[_Union[NodeRegistration, _Mapping]] = ..., signature_request: _Optional[_Union[SignatureRequest, _Mapping]] = ..., pegin_notification: _Optional[_Union[PeginNotification, _Mapping]] = ..., status_update: _Optional[_Union[StatusUpdate, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("metadata", "registration_ack", "signature_response", "federation_update", "proposal_notification", "error_response", "heartbeat_ack")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_ACK_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    FEDERATION_UPDATE_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    ERROR_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_ACK_FIELD_NUMBER: _ClassVar[int]
    metadata: ResponseMetadata
    registration_ack: NodeRegistrationAck
    signature_response: SignatureResponse
    federation_update: FederationUpdate
    proposal_notification: ProposalNotification
    error_response: ErrorResponse
    heartbeat_ack: HeartbeatAck
    def __init__(self, metadata: _Optional[_Union[ResponseMetadata, _Mapping]] = ..., registration_ack: _Optional[_Union[NodeRegistrationAck, _Mapping]] = ..., signature_response: _Optional[_Union[SignatureResponse, _Mapping]] = ..., federation_update: _Optional[_Union[FederationUpdate, _Mapping]] = ..., proposal_notification: _Optional[_Union[ProposalNotification, _Mapping]] = ..., error_response: _Optional[_Union[ErrorResponse, _Mapping]] = ..., heartbeat_ack: _Optional[_Union[HeartbeatAck, _Mapping]] = ...) -> None: ...

class RequestMetadata(_message.Message):
    __slots__ = ("request_id", "timestamp", "node_id", "protocol_version", "priority", "timeout")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    timestamp: int
    node_id: str
    protocol_version: str
    priority: RequestPriority
    timeout: int
    def __init__(self, request_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., node_id: _Optional[str] = ..., protocol_version: _Optional[str] = ..., priority: _Optional[_Union[RequestPriority, str]] = ..., timeout: _Optional[int] = ...) -> None: ...

class ResponseMetadata(_message.Message):
    __slots__ = ("request_id", "timestamp", "node_id", "status", "message")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    timestamp: int
    node_id: str
    status: StatusCode
    message: str
    def __init__(self, request_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., node_id: _Optional[str] = ..., status: _Optional[_Union[StatusCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class NodeRegistration(_message.Message):
    __slots__ = ("node_info", "capabilities", "endpoints", "auth")
    NODE_INFO_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    node_info: NodeInfo
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    endpoints: _containers.RepeatedCompositeFieldContainer[NetworkEndpoint]
    auth: AuthCredentials
    def __init__(self, node_info: _Optional[_Union[NodeInfo, _Mapping]] = ..., capabilities: _Optional[_Iterable[str]] = ..., endpoints: _Optional[_Iterable[_Union[NetworkEndpoint, _Mapping]]] = ..., auth: _Optional[_Union[AuthCredentials, _Mapping]] = ...) -> None: ...

class NodeRegistrationAck(_message.Message):
    __slots__ = ("accepted", "assigned_node_id", "session_token", "expires_at")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    assigned_node_id: str
    session_token: str
    expires_at: int
    def __init__(self, accepted: _Optional[bool] = ..., assigned_node_id: _Optional[str] = ..., session_token: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class SignatureRequest(_message.Message):
    __slots__ = ("tx_hex", "input_indices", "amounts", "tx_type", "required_signatures", "timeout_seconds")
    TX_HEX_FIELD_NUMBER: _ClassVar[int]
    INPUT_INDICES_FIELD_NUMBER: _ClassVar[int]
    AMOUNTS_FIELD_NUMBER: _ClassVar[int]
    TX_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    tx_hex: str
    input_indices: _containers.RepeatedScalarFieldContainer[int]
    amounts: _containers.RepeatedScalarFieldContainer[int]
    tx_type: TransactionType
    required_signatures: int
    timeout_seconds: int
    def __init__(self, tx_hex: _Optional[str] = ..., input_indices: _Optional[_Iterable[int]] = ..., amounts: _Optional[_Iterable[int]] = ..., tx_type: _Optional[_Union[TransactionType, str]] = ..., required_signatures: _Optional[int] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class SignatureResponse(_message.Message):
    __slots__ = ("status", "signatures", "failure_reason", "partial_signatures")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    status: SignatureStatus
    signatures: _containers.RepeatedCompositeFieldContainer[WitnessData]
    failure_reason: str
    partial_signatures: _containers.RepeatedCompositeFieldContainer[PartialSignature]
    def __init__(self, status: _Optional[_Union[SignatureStatus, str]] = ..., signatures: _Optional[_Iterable[_Union[WitnessData, _Mapping]]] = ..., failure_reason: _Optional[str] = ..., partial_signatures: _Optional[_Iterable[_Union[PartialSignature, _Mapping]]] = ...) -> None: ...

class PeginNotification(_message.Message):
    __slots__ = ("btc_txid", "vout", "amount", "evm_address", "confirmations", "extra_data")
    BTC_TXID_FIELD_NUMBER: _ClassVar[int]
    VOUT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EVM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_DATA_FIELD_NUMBER: _ClassVar[int]
    btc_txid: str
    vout: int
    amount: int
    evm_address: str
    confirmations: int
    extra_data: bytes
    def __init__(self, btc_txid: _Optional[str] = ..., vout: _Optional[int] = ..., amount: _Optional[int] = ..., evm_address: _Optional[str] = ..., confirmations: _Optional[int] = ..., extra_data: _Optional[bytes] = ...) -> None: ...

class FederationUpdate(_message.Message):
    __slots__ = ("update_type", "members", "effective_height", "update_signature", "config")
    UPDATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    update_type: FederationUpdateType
    members: _containers.RepeatedCompositeFieldContainer[FederationMember]
    effective_height: int
    update_signature: bytes
    config: FederationConfig
    def __init__(self, update_type: _Optional[_Union[FederationUpdateType, str]] = ..., members: _Optional[_Iterable[_Union[FederationMember, _Mapping]]] = ..., effective_height: _Optional[int] = ..., update_signature: _Optional[bytes] = ..., config: _Optional[_Union[FederationConfig, _Mapping]] = ...) -> None: ...

class ProposalNotification(_message.Message):
    __slots__ = ("proposal_id", "proposal_type", "proposal_data", "voting_deadline", "required_votes")
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_DATA_FIELD_NUMBER: _ClassVar[int]
    VOTING_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_VOTES_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    proposal_type: ProposalType
    proposal_data: bytes
    voting_deadline: int
    required_votes: int
    def __init__(self, proposal_id: _Optional[str] = ..., proposal_type: _Optional[_Union[ProposalType, str]] = ..., proposal_data: _Optional[bytes] = ..., voting_deadline: _Optional[int] = ..., required_votes: _Optional[int] = ...) -> None: ...

class StatusUpdate(_message.Message):
    __slots__ = ("status", "block_height", "sync_status", "connection_count", "metrics")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SYNC_STATUS_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    status: NodeStatus
    block_height: int
    sync_status: SyncStatus
    connection_count: int
    metrics: PerformanceMetrics
    def __init__(self, status: _Optional[_Union[NodeStatus, str]] = ..., block_height: _Optional[int] = ..., sync_status: _Optional[_Union[SyncStatus, str]] = ..., connection_count: _Optional[int] = ..., metrics: _Optional[_Union[PerformanceMetrics, _Mapping]] = ...) -> None: ...

class ErrorResponse(_message.Message):
    __slots__ = ("error_code", "error_message", "error_details", "retry_info")
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAILS_FIELD_NUMBER: _ClassVar[int]
    RETRY_INFO_FIELD_NUMBER: _ClassVar[int]
    error_code: ErrorCode
    error_message: str
    error_details: str
    retry_info: RetryInfo
    def __init__(self, error_code: _Optional[_Union[ErrorCode, str]] = ..., error_message: _Optional[str] = ..., error_details: _Optional[str] = ..., retry_info: _Optional[_Union[RetryInfo, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("timestamp", "sequence", "health")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    sequence: int
    health: HealthStatus
    def __init__(self, timestamp: _Optional[int] = ..., sequence: _Optional[int] = ..., health: _Optional[_Union[HealthStatus, str]] = ...) -> None: ...

class HeartbeatAck(_message.Message):
    __slots__ = ("original_timestamp", "ack_timestamp", "sequence")
    ORIGINAL_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ACK_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    original_timestamp: int
    ack_timestamp: int
    sequence: int
    def __init__(self, original_timestamp: _Optional[int] = ..., ack_timestamp: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ("check_type",)
    CHECK_TYPE_FIELD_NUMBER: _ClassVar[int]
    check_type: str
    def __init__(self, check_type: _Optional[str] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "version", "uptime", "info")
    class InfoEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    status: HealthStatus
    version: str
    uptime: int
    info: _containers.ScalarMap[str, str]
    def __init__(self, status: _Optional[_Union[HealthStatus, str]] = ..., version: _Optional[str] = ..., uptime: _Optional[int] = ..., info: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CapabilitiesRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class CapabilitiesResponse(_message.Message):
    __slots__ = ("protocol_versions", "features", "limits")
    class LimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PROTOCOL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    protocol_versions: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.RepeatedScalarFieldContainer[str]
    limits: _containers.ScalarMap[str, int]
    def __init__(self, protocol_versions: _Optional[_Iterable[str]] = ..., features: _Optional[_Iterable[str]] = ..., limits: _Optional[_Mapping[str, int]] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("public_key", "node_type", "version", "region")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NODE_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    public_key: str
    node_type: NodeType
    version: str
    region: str
    def __init__(self, public_key: _Optional[str] = ..., node_type: _Optional[_Union[NodeType, str]] = ..., version: _Optional[str] = ..., region: _Optional[str] = ...) -> None: ...

class NetworkEndpoint(_message.Message):
    __slots__ = ("url", "endpoint_type", "priority", "enabled")
    URL_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    url: str
    endpoint_type: EndpointType
    priority: int
    enabled: bool
    def __init__(self, url: _Optional[str] = ..., endpoint_type: _Optional[_Union[EndpointType, str]] = ..., priority: _Optional[int] = ..., enabled: _Optional[bool] = ...) -> None: ...

class AuthCredentials(_message.Message):
    __slots__ = ("auth_type", "credential_data", "expires_at")
    AUTH_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_DATA_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    auth_type: AuthType
    credential_data: bytes
    expires_at: int
    def __init__(self, auth_type: _Optional[_Union[AuthType, str]] = ..., credential_data: _Optional[bytes] = ..., expires_at: _Optional[int] = ...) -> None: ...

class WitnessData(_message.Message):
    __slots__ = ("signature", "public_key", "sig_type")
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SIG_TYPE_FIELD_NUMBER: _ClassVar[int]
    signature: bytes
    public_key: bytes
    sig_type: SignatureType
    def __init__(self, signature: _Optional[bytes] = ..., public_key: _Optional[bytes] = ..., sig_type: _Optional[_Union[SignatureType, str]] = ...) -> None: ...

class PartialSignature(_message.Message):
    __slots__ = ("signer_id", "signature", "status")
    SIGNER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    signer_id: str
    signature: bytes
    status: SignatureStatus
    def __init__(self, signer_id: _Optional[str] = ..., signature: _Optional[bytes] = ..., status: _Optional[_Union[SignatureStatus, str]] = ...) -> None: ...

class FederationMember(_message.Message):
    __slots__ = ("member_id", "public_key", "weight", "active")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    public_key: bytes
    weight: int
    active: bool
    def __init__(self, member_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., weight: _Optional[int] = ..., active: _Optional[bool] = ...) -> None: ...

class FederationConfig(_message.Message):
    __slots__ = ("signature_threshold", "member_count", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SIGNATURE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    signature_threshold: int
    member_count: int
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, signature_threshold: _Optional[int] = ..., member_count: _Optional[int] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PerformanceMetrics(_message.Message):
    __slots__ = ("cpu_usage", "memory_usage", "network_sent", "network_received", "avg_latency_ms")
    CPU_USAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    NETWORK_SENT_FIELD_NUMBER: _ClassVar[int]
    NETWORK_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    AVG_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    cpu_usage: float
    memory_usage: int
    network_sent: int
    network_received: int
    avg_latency_ms: float
    def __init__(self, cpu_usage: _Optional[float] = ..., memory_usage: _Optional[int] = ..., network_sent: _Optional[int] = ..., network_received: _Optional[int] = ..., avg_latency_ms: _Optional[float] = ...) -> None: ...

class RetryInfo(_message.Message):
    __slots__ = ("retry_after", "max_retries", "current_attempt")
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    retry_after: int
    max_retries: int
    current_attempt: int
    def __init__(self, retry_after: _Optional[int] = ..., max_retries: _Optional[int] = ..., current_attempt: _Optional[int] = ...) -> None: ...
