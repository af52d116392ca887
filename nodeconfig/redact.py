"""Secrets stay out of every repr, log line and error text: URLs are shown redacted.

The config holds no secret of its own (tokens and passwords come from files or
environment variables it names), but an RPC URL may carry one: `user:pass@` in
its authority, an API key in its query, or, with hosted providers, in its path
(`/v3/<key>`). So every URL the node prints goes through `redact_url`:

- user information becomes `***` (`http://***@127.0.0.1:8332`);
- each query value becomes `***`, names kept (`?apikey=***`); a bare query, `?***`;
- a fragment becomes `#***`;
- a path segment that looks like a key (20 or more letters, digits, `-` or `_`,
  with both letters and digits) becomes `***`; other segments stay, so
  `/wallet/cold` still tells an operator which wallet.

`redact_text` does this to every URL inside free text (a log line, an
exception's message). The config classes' reprs go through it
(`redact_reprs`, applied by the package on import), so a config printed by a
traceback, a log call or Thespian shows no credential.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

MASK = "***"

# A scheme, `://`, then anything up to white space or a quote: a URL inside a repr
# ends at its quote, one inside prose at the next space. What trails it (a comma, a
# parenthesis) falls in the path or the query and is redacted with it, at worst.
_SCHEME_TEXT = r"[A-Za-z][A-Za-z0-9+.\-]*://"
_URL = re.compile(_SCHEME_TEXT + r"[^\s'\"<>`]+")
_SCHEME = re.compile(_SCHEME_TEXT)
_KEYLIKE = re.compile(r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{20,}")


def redact_url(url: str) -> str:
    """`url` with its user information, query values, fragment and key-like path parts masked."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    masked_user = "@" in rest
    if masked_user:
        # User info first, up to the last "@": a password may hold "#", "?" or "/"
        # unencoded, which would otherwise end the authority early and leak its rest.
        rest = rest.rpartition("@")[2]
    rest, hash_sign, _fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    if masked_user:
        authority = f"{MASK}@{authority}"
    if path:
        path = "/".join(MASK if _KEYLIKE.fullmatch(part) else part for part in path.split("/"))
    out = f"{scheme}://{authority}{slash}{path}"
    if question:
        out += "?" + _redact_query(query)
    if hash_sign:
        out += "#" + MASK
    return out


def _redact_query(query: str) -> str:
    if "=" not in query:
        return MASK
    parts = []
    for item in query.split("&"):
        name, equals, _value = item.partition("=")
        parts.append(f"{name}={MASK}" if equals else MASK)
    return "&".join(parts)


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (`redact_url`)."""
    if "://" not in text:  # nearly every log line: no regular expression run
        return text
    return _URL.sub(lambda match: redact_url(match.group()), text)


def redacted_repr(original: Callable[[Any], str]) -> Callable[[Any], str]:
    """A `__repr__` that is `original`'s, redacted."""

    def __repr__(self: Any) -> str:
        return redact_text(original(self))

    __repr__.redacted = True  # type: ignore[attr-defined]
    return __repr__


def redact_reprs(module: ModuleType) -> None:
    """Give every dataclass defined in `module` a redacted repr (once; idempotent)."""
    for value in vars(module).values():
        if (isinstance(value, type) and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
                and not getattr(value.__repr__, "redacted", False)):
            value.__repr__ = redacted_repr(value.__repr__)  # type: ignore[method-assign]


def redacted_tree(config: Any) -> Any:
    """A config (or any dataclass) as plain JSON-ready data, every text in it redacted
    (`redact_text`): what the node may show of its effective config (`/info`)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {field.name: redacted_tree(getattr(config, field.name))
                for field in dataclasses.fields(config)}
    if isinstance(config, dict):
        return {str(key): redacted_tree(value) for key, value in config.items()}
    if isinstance(config, list | tuple):
        return [redacted_tree(value) for value in config]
    if isinstance(config, str):
        # A value that is a URL is redacted whole: in text a URL ends at white space or a
        # quote, and the rest of a password after one would be shown.
        return redact_url(config) if _SCHEME.match(config) else redact_text(config)
    return config
