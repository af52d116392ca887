"""Start and stop the mock: the gRPC server and the control server, both on loopback."""

from __future__ import annotations

import logging
import os
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from mock_governance.auth import AuthPolicy
from mock_governance.control import LOOPBACK, ControlServer
from mock_governance.errors import MockStartupError
from mock_governance.handlers import MAX_MESSAGE_BYTES
from mock_governance.servicer import MockGovernanceServicer, add_to_server
from mock_governance.state import MockState

logger = logging.getLogger(__name__)

# Spare workers beyond the streams, so Health/GetCapabilities are answered
# even when every stream slot holds a worker for the life of its call.
_UNARY_WORKERS = 4

_GRPC_OPTIONS = (
    # grpcio enables SO_REUSEPORT by default: a second mock on the same port
    # would then start "successfully" and steal half the connections.
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Tolerate client keepalive pings on an idle stream instead of answering
    # them with GOAWAY (too_many_pings).
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 1000),
)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for the gRPC port; with ``client_ca``, clients must present a cert it signed."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def mode(self) -> str:
        return "mtls" if self.client_ca is not None else "on"


@dataclass(frozen=True)
class MockConfig:
    port: int = 0  # 0: any free port, reported in the ready line
    control_port: int = 0
    federation_seed: str = "local-dev"
    federation_size: int = 5  # derived keys 0..size-1 sign
    federation_threshold: int = 3
    federation_script_type: str = "p2wsh"
    max_streams: int = 64
    shutdown_grace_s: float = 2.0
    tls: TlsFiles | None = None
    # What nodes must present (docs/protocol.md, conventions 2 and 9).
    auth: AuthPolicy = field(default_factory=AuthPolicy)


@dataclass(frozen=True)
class Listening:
    grpc_port: int
    control_port: int
    pid: int
    tls: str = "off"  # off | on | mtls

    def ready_line(self) -> str:
        return (
            f"mock-governance: ready grpc={LOOPBACK}:{self.grpc_port} "
            f"control={LOOPBACK}:{self.control_port} pid={self.pid} tls={self.tls}"
        )


def _read_pem(what: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise MockStartupError(f"cannot read the TLS {what} {path}: {error}") from error


def server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    pair = (_read_pem("key", tls.key), _read_pem("certificate", tls.cert))
    client_ca = None if tls.client_ca is None else _read_pem("client CA", tls.client_ca)
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


class MockGovernanceServer:
    def __init__(self, config: MockConfig) -> None:
        self.config = config
        try:
            self.state = MockState(
                config.federation_seed,
                config.max_streams,
                federation_size=config.federation_size,
                federation_threshold=config.federation_threshold,
                federation_script_type=config.federation_script_type,
                auth_policy=config.auth,
            )
        except ValueError as error:  # a federation that cannot be a multisig
            raise MockStartupError(f"federation: {error}") from error
        self._grpc: grpc.Server | None = None
        self._control: ControlServer | None = None

    def start(self) -> Listening:
        try:
            self._control = ControlServer(self.config.control_port, self.state)
        except OSError as error:
            raise MockStartupError(
                f"control port {LOOPBACK}:{self.config.control_port}: {error}"
            ) from error
        try:
            grpc_port = self._start_grpc()
        except MockStartupError:
            self._control.server_close()
            raise
        self._control.start()
        tls = "off" if self.config.tls is None else self.config.tls.mode
        return Listening(grpc_port, self._control.port, os.getpid(), tls)

    def _start_grpc(self) -> int:
        tls = self.config.tls
        credentials = None if tls is None else server_credentials(tls)
        executor = futures.ThreadPoolExecutor(
            max_workers=self.config.max_streams + _UNARY_WORKERS,
            thread_name_prefix="mock-grpc",
        )
        server = grpc.server(executor, options=_GRPC_OPTIONS)
        add_to_server(MockGovernanceServicer(self.state), server)
        address = f"{LOOPBACK}:{self.config.port}"
        try:
            if credentials is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, credentials)
        except RuntimeError as error:  # recent grpcio raises instead of returning 0
            raise MockStartupError(f"gRPC port {address}: {error}") from error
        if port == 0:
            raise MockStartupError(f"gRPC port {address}: could not bind")
        server.start()
        self._grpc = server
        return port

    def stop(self) -> None:
        """Stop taking control requests, end every stream with OK, then stop gRPC."""
        if self._control is not None:
            self._control.stop()
        ended = self.state.end_all_streams()
        logger.info("stopping: ending %d open stream(s)", ended)
        if self._grpc is not None:
            self._grpc.stop(self.config.shutdown_grace_s).wait()
