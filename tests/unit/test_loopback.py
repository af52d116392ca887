"""The adaptation of Thespian's address handling that keeps actor sockets on one host."""

from __future__ import annotations

import socket

from thespian.system.transport.IPBase import TCPv4ActorAddress

from runtime.loopback import confine_actor_sockets, confined_host


def test_external_addresses_bind_and_advertise_the_configured_host_only() -> None:
    confine_actor_sockets("127.0.0.1")

    admin = TCPv4ActorAddress(None, 19500, external=True)
    actor = TCPv4ActorAddress(None, 0, external=True)

    assert confined_host() == "127.0.0.1"
    assert admin.bindname == ("127.0.0.1", 19500) and admin.sockname == ("127.0.0.1", 19500)
    assert actor.bindname[0] == "127.0.0.1" and actor.sockname[0] == "127.0.0.1"


def test_a_socket_bound_through_the_adapted_address_refuses_other_addresses() -> None:
    confine_actor_sockets("127.0.0.1")
    address = TCPv4ActorAddress(None, 0, external=True)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(*address.bindArgs)
        server.listen()
        port = server.getsockname()[1]
        assert server.getsockname()[0] == "127.0.0.1"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
            assert other.connect_ex(("127.0.0.2", port)) != 0


def test_confining_twice_keeps_one_adaptation() -> None:
    confine_actor_sockets("127.0.0.1")
    confine_actor_sockets("127.0.0.1")
    assert TCPv4ActorAddress(None, 0, external=True).bindname[0] == "127.0.0.1"
