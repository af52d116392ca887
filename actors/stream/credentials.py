"""What the node presents to governance, and when that changes (docs/protocol.md,
conventions 2 and 9).

`Credentials` holds the node key, the configured credential (a bearer token or
an API key, read from its file, or a bearer token from the environment) and
the session token governance granted with the last registration ack. For a
connection it gives the call metadata and the `NodeRegistration.auth`:

- a live session token (one that came with `expires_at`) first, as a bearer
  token whose `AuthCredentials.expires_at` is the session's;
- otherwise the configured credential: `bearer` and `api_key` travel as
  `authorization: Bearer <secret>` call metadata and in the registration;
  `signature` signs `btc.nodekey.auth_message(node id, timestamp)` with the node
  key, and has no call metadata.

`poll` re-reads the credential's file and the node key's when their stat
(inode, size, mtime) changes, which costs one `stat` each; it says whether the
credential presented changed, so the stream reconnects to present the new one.
A file that is missing, empty or unreadable keeps the last good value (a
rewrite may be caught half-way: it is read again on the next poll). Secrets
never reach a log line: only file names and reasons do.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from btc import nodekey
from nodeconfig.errors import ConfigError
from nodeconfig.model import AuthConfig, NodeConfig
from protocol import governance_pb2 as pb

# Renew a session once this share of its lifetime has passed, and never sooner than
# MIN_RENEW_S after it was granted (a governance granting 0-second sessions must not
# make the node reconnect in a loop).
RENEW_AT_FRACTION = 0.8
MIN_RENEW_S = 1.0
MAX_SESSION_TOKEN_BYTES = 4096

Stat = tuple[int, int, int]  # inode, size, mtime in ns


def check_auth(config: NodeConfig) -> None:
    """The combinations of `governance.auth` keys the stream cannot use (ConfigError)."""
    found = config.governance.auth.problem()
    if found is not None:
        key, problem = found
        raise ConfigError(config.source, f"governance.auth.{key}", problem)


def key_path(config: NodeConfig) -> str:
    return config.node.key_file or nodekey.default_key_path(config.storage.path)


@dataclass
class _Watched:
    """A file read again whenever its stat changes."""

    path: str
    seen: Stat | None = None

    def changed(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False  # gone for now: keep what was read, look again next time
        current = (st.st_ino, st.st_size, st.st_mtime_ns)
        return current != self.seen

    def read_text(self) -> str | None:
        """The file's text stripped, None if missing, unreadable or empty; marks it seen
        only when read, so a half-written (empty) file is read again next time."""
        try:
            with open(self.path, "rb") as file:
                st = os.fstat(file.fileno())
                text = file.read().decode("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not text:
            return None
        self.seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        return text


@dataclass(frozen=True)
class SessionGrant:
    """A session token from a registration ack, and when it should be renewed."""

    token: str = field(repr=False)
    expires_at: int  # governance's Unix seconds
    renew_in_s: float  # from when it was granted, on the node's clock


class Credentials:
    def __init__(self, auth: AuthConfig, key_file: str, log: logging.Logger) -> None:
        self._auth = auth
        self._log = log
        self._key = _Watched(key_file)
        self.key, created = nodekey.load_or_create(key_file)
        self._key.seen = _stat(key_file)
        if created:
            log.info("created node key %s (public key %s)", key_file, self.key.public_key_hex)
        secret_file = auth.token_file if auth.type == "bearer" else auth.api_key_file
        self._secret_file = _Watched(secret_file) if secret_file else None
        self._secret: str | None = None
        self.session: SessionGrant | None = None
        self.presented: str | None = None  # the secret the current connection presented
        if self._secret_file is not None:
            self._secret = self._secret_file.read_text()
            if self._secret is None:
                log.error("governance credential file %s is missing or empty",
                          self._secret_file.path)

    @property
    def public_key_hex(self) -> str:
        return self.key.public_key_hex

    # -- what a connection presents ------------------------------------------------

    def _configured_secret(self) -> str | None:
        if self._auth.type == "signature":
            return None
        if self._secret_file is None and self._auth.token_env:
            return os.environ.get(self._auth.token_env) or None
        return self._secret

    def begin(self) -> str | None:
        """A new connection: the secret its call metadata carries (`authorization: Bearer
        <secret>`), None for none; remembered for the registration."""
        secret = self.session.token if self.session else self._configured_secret()
        self.presented = secret
        return secret

    def registration_auth(self, node_id: str, timestamp: int) -> pb.AuthCredentials | None:
        """`NodeRegistration.auth` for the connection `begin` started."""
        if self.session is not None:
            return pb.AuthCredentials(auth_type=pb.AUTH_TYPE_BEARER,
                                      credential_data=self.session.token.encode(),
                                      expires_at=self.session.expires_at)
        if self._auth.type == "signature":
            return pb.AuthCredentials(auth_type=pb.AUTH_TYPE_SIGNATURE,
                                      credential_data=self.key.auth_signature(node_id, timestamp))
        if not self.presented:
            return None
        auth_type = pb.AUTH_TYPE_API_KEY if self._auth.type == "api_key" else pb.AUTH_TYPE_BEARER
        return pb.AuthCredentials(auth_type=auth_type,
                                  credential_data=self.presented.encode())

    # -- changes ------------------------------------------------------------------------

    def poll(self, force: bool = False) -> str | None:
        """Re-read changed files (every file with `force`: SIGHUP); the reason to reconnect
        if the credential changed."""
        if force:
            self._key.seen = None
            if self._secret_file is not None:
                self._secret_file.seen = None
        reason = None
        if self._key.changed():
            try:
                key = nodekey.load(self._key.path)
            except nodekey.NodeKeyError as error:
                self._log.error("keeping the node key in use: %s", error)
                self._key.seen = _stat(self._key.path)
            else:
                self._key.seen = _stat(self._key.path)
                if key != self.key:
                    self.key = key
                    self._log.info("node key %s changed (public key %s)", self._key.path,
                                   key.public_key_hex)
                    reason = "the node key changed"
        watched = self._secret_file
        if watched is not None and watched.changed():
            secret = watched.read_text()
            if secret is not None and secret != self._secret:
                self._secret = secret
                self._log.info("governance credential file %s changed", watched.path)
                reason = reason or "the credential file changed"
        if reason is not None:
            self.session = None  # present the new credential, not the old session
        return reason

    def granted(self, token: str | None, expires_at: int | None, governance_now: int,
                now: int) -> SessionGrant | None:
        """A registration ack's session: used from the next connection on when it comes
        with `expires_at`; a token without a lifetime cannot be renewed, so it is ignored."""
        if not token or expires_at is None:
            self.session = None
            return None
        if len(token) > MAX_SESSION_TOKEN_BYTES or not token.isprintable():
            self._log.warning("ignoring a session token that is not printable or too long")
            self.session = None
            return None
        # Its lifetime on governance's clock (the ack's timestamp), so skew does not matter;
        # less one second, since both are whole seconds (the ack's may be 0.99 s behind).
        lifetime_s = expires_at - (governance_now or now) - 1
        renew_in_s = max(lifetime_s * RENEW_AT_FRACTION, MIN_RENEW_S)
        self.session = SessionGrant(token, expires_at, renew_in_s)
        return self.session

    def refused(self) -> bool:
        """Governance refused what was presented: drop a session token (True if one was
        presented), so the next connection presents the configured credential."""
        had_session = self.session is not None
        self.session = None
        return had_session


def _stat(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
