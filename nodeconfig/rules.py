"""How a setting is declared, and the value checks settings use.

A setting is a dataclass field whose metadata carries its checks, so the
default, the type and the allowed values of a key sit on one line of
``model.py``. A check takes the converted value and returns the problem as
text, or None when the value is fine. A check must not share its name with
a field (``port_number``, not ``port``): inside a class body the field
defined above would shadow it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sized
from dataclasses import MISSING, Field, field
from typing import Any
from urllib.parse import urlsplit

from nodeconfig.redact import redact_url

Check = Callable[[Any], str | None]

_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]@]+):(?P<port>[0-9]{1,5})")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_ENDS_A_URL = frozenset("'\"<>`")  # where `nodeconfig.redact` takes a URL in text to end


def setting(
    *checks: Check,
    default: Any = MISSING,
    factory: Callable[[], Any] | Any = MISSING,
    path: bool = False,
    names: tuple[str, ...] = (),
    normalize: Callable[[Any], Any] | None = None,
    internal: bool = False,
) -> Any:
    """Declare a config key as a dataclass field.

    ``path``: a filesystem path, stored absolute. ``names``: the keys a
    mapping-valued setting accepts. ``internal``: filled by the loader, never
    read from the file. No default and no factory makes the key required.
    """
    metadata = {
        "checks": checks,
        "path": path,
        "names": names,
        "normalize": normalize,
        "internal": internal,
    }
    # Dicts cannot be hashed; leaving them out of the hash keeps the frozen
    # config objects usable as dict keys and in sets.
    hashed = None if not names else False
    return field(default=default, default_factory=factory, metadata=metadata, hash=hashed)


def checks_of(spec: Field[Any]) -> tuple[Check, ...]:
    checks: tuple[Check, ...] = spec.metadata.get("checks", ())  # as `setting` stored them
    return checks


def positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than 0, got {value!r}"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else f"must not be negative, got {value!r}"


def fraction(value: float) -> str | None:
    return None if 0 <= value <= 1 else f"must be between 0 and 1, got {value!r}"


def at_least(minimum: float) -> Check:
    def check(value: float) -> str | None:
        return None if value >= minimum else f"must be at least {minimum}, got {value!r}"

    check.__name__ = f"at_least_{minimum}"
    return check


def at_most(maximum: float) -> Check:
    def check(value: float) -> str | None:
        return None if value <= maximum else f"must be at most {maximum}, got {value!r}"

    check.__name__ = f"at_most_{maximum}"
    return check


def tx_versions(value: tuple[int, ...]) -> str | None:
    if not value:
        return "must list at least one transaction version"
    for version in value:
        if not 1 <= version <= 3:
            return f"each version must be 1, 2 or 3 (those Bitcoin Core relays), got {version}"
    return None


def port_number(value: int) -> str | None:
    if 1 <= value <= 65535:
        return None
    return f"must be a port number between 1 and 65535, got {value}"


def non_empty(value: Sized) -> str | None:
    return None if len(value) > 0 else "must not be empty"


def no_whitespace(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if any(char.isspace() for char in value):
        return f"must not contain whitespace, got {value!r}"
    return None


def host_port(value: str) -> str | None:
    match = _HOST_PORT.fullmatch(value)
    if match is None:
        return f"expected 'host:port' (for example '127.0.0.1:50051'), got {value!r}"
    number = int(match.group("port"))
    if not 1 <= number <= 65535:
        return f"port {number} in {value!r} is outside 1..65535"
    return None


def http_url(value: str) -> str | None:
    # The value is quoted redacted: a URL may carry credentials (nodeconfig/redact.py).
    shown = redact_url(value) if "://" in value else value
    if "@" in shown and "://" not in value:
        shown = "a value with '@' (not shown: it may hold credentials)"
    else:
        shown = repr(shown)
    if any(char.isspace() or not char.isprintable() or char in _ENDS_A_URL for char in value):
        # Invalid in a URL anyway; and redacting one inside text ends the URL there, which
        # would show the rest of a password after it (nodeconfig/redact.py).
        return (f"contains a character a URL must percent-encode (white space, a control "
                f"character, a quote, < > or `): {shown}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"expected an http:// or https:// URL with a host, got {shown}"
    try:
        parts.port  # noqa: B018 - property access validates the port
    except ValueError:
        return f"invalid port in {shown}"
    return None


def at_most_chars(maximum: int) -> Check:
    def check(value: str) -> str | None:
        if len(value) <= maximum:
            return None
        return f"must be at most {maximum} characters, got {len(value)}"

    check.__name__ = f"at_most_{maximum}_chars"
    return check


def trace_endpoint(value: str) -> str | None:
    """An OTLP/HTTP collector: https anywhere, plain http only on this machine (spans
    name peg-outs, amounts and hosts), and no credentials in the URL (user information, a
    query or a fragment)."""
    problem = http_url(value)
    if problem is not None:
        return problem
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user information) in the URL"
    if "?" in value or "#" in value:
        # An OTLP/HTTP traces URL has neither; an API key in one would go wherever the
        # URL is shown or forwarded.
        return "must not carry a query or a fragment (an API key in one is a credential)"
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        return (f"plain http is allowed only to loopback (127.0.0.1, ::1, localhost), got "
                f"host {parts.hostname!r}; use https for a remote collector")
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_name(value: str) -> str | None:
    if _ENV_NAME.fullmatch(value):
        return None
    return f"expected the name of an environment variable (letters, digits, _), got {value!r}"


def private_ip(value: str) -> str | None:
    """Actor sockets carry pickles: only loopback or a private network may reach them."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return f"expected an IP address (loopback or private), got {value!r}"
    if address.is_unspecified:
        return (
            f"{value} accepts actor traffic on every interface; use a loopback or private address"
        )
    if not (address.is_loopback or address.is_private):
        return f"{value} is public; actor traffic must stay on loopback or a private network"
    return None


def compressed_pubkey(value: str) -> str | None:
    expected = "a compressed secp256k1 public key: 66 hex digits starting with 02 or 03"
    if not _HEX.fullmatch(value):
        return f"expected {expected}, got non-hex text {value!r}"
    if len(value) != 66:
        return f"expected {expected}, got {len(value)} hex digits"
    if value[:2] not in ("02", "03"):
        return f"expected {expected}, got prefix {value[:2]!r}"
    # Imported here: embit loads libsecp256k1, which only this check needs.
    from btc.federation import is_compressed_pubkey

    if not is_compressed_pubkey(bytes.fromhex(value)):
        return f"{value} is not a point on the secp256k1 curve"
    return None
