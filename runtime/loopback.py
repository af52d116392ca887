"""Make every Thespian socket of the node listen on one address only.

Thespian 4.0.1 has no setting for the address its actor sockets bind to:
`IPActorAddress` advertises the address named by `THESPIAN_BASE_IPADDR` (or one
it finds by probing the network), but whenever it builds an address meant to
be reachable from outside it sets the bind name to `('', port)`, that is, every
interface. Those sockets accept pickled messages, so whoever reaches them can
run code in the node.

`confine_actor_sockets(host)` fixes both halves for this process and for every
process forked from it afterwards (the Thespian admin, the logger and every
actor are forked, so they inherit the patched class): the advertised address
comes from `THESPIAN_BASE_IPADDR`, and a bind name of `''` is replaced by the
same host. Call it before the first `ActorSystem(...)` of the process.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from thespian.system.transport import IPBase

_ORIGINAL_INIT: Callable[..., None] = IPBase.IPActorAddress.__init__
_ENV = "THESPIAN_BASE_IPADDR"


def confine_actor_sockets(host: str) -> None:
    """Advertise and bind every Thespian socket of this process tree to `host`."""
    os.environ[_ENV] = host
    # ThisSystem caches the machine's local addresses at import time; the
    # configured host must count as local so that addresses compare equal.
    IPBase.thisSystem.add_local_addr(host)

    def init_bound_to_host(self: IPBase.IPActorAddress, *args: object, **kwargs: object) -> None:
        _ORIGINAL_INIT(self, *args, **kwargs)
        if self.bindname[0] == "":
            self.bindname = (host, self.bindname[1])

    # Patching the class is the point: every address built after this binds to `host`.
    address_class = IPBase.IPActorAddress
    address_class.__init__ = init_bound_to_host  # type: ignore[method-assign]  # deliberate patch


def confined_host() -> str | None:
    """The host this process's Thespian sockets are confined to, if any."""
    if IPBase.IPActorAddress.__init__ is _ORIGINAL_INIT:
        return None
    return os.environ.get(_ENV)
