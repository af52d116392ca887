# Thespian's IP addresses (thespian/system/transport/IPBase.py); runtime/loopback.py
# adapts IPActorAddress so that actor sockets bind to one host.

# (host, port) for IPv4; IPv6 adds flow info and scope id.
_SockName = tuple[str, int] | tuple[str, int, int, int]

class ThisSystem:
    def add_local_addr(self, newaddr: str) -> None: ...

thisSystem: ThisSystem

class IPActorAddress:
    sockname: _SockName
    bindname: _SockName
    # `external` is a truthy "reachable from outside" flag or a peer address to probe with.
    def __init__(
        self, af: int, socktype: int, proto: int, baseaddr: str | None, port: int,
        external: object = False,
    ) -> None: ...
    @property
    def bindArgs(self) -> tuple[_SockName]: ...

class TCPv4ActorAddress(IPActorAddress):
    def __init__(
        self, initialIPAddr: str | None = None, initialIPPort: int = 0, external: object = False
    ) -> None: ...
